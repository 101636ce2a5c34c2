using Grpc.Core;
using Router.Contracts;
using Router.InferenceWorker.Simulation;
using Router.Testing;
using Xunit;

namespace Router.InferenceWorker.Tests;

/// <summary>The simulated fleet's statistics and invariants: what makes it a fair stand-in for real models.</summary>
public sealed class SimulatedFleetTests
{
    private static readonly SimulatedModel[] Fleet = [.. SimulatedModelProfile.Defaults.Select(p => new SimulatedModel(p, QuestionSet.Default))];

    [Fact]
    public void Bigger_models_are_more_accurate_and_their_mean_logprob_separates_right_from_wrong_better()
    {
        var stats = Fleet.Select(model =>
        {
            var answers = QuestionSet.Default.Questions
                .SelectMany(q => Enumerable.Range(0, 60).Select(seed => model.Generate(q.Prompt, seed, 512, 5, [])))
                .ToList();
            var accuracy = answers.Average(a => a.Correct!.Value ? 1.0 : 0.0);
            var auroc = Auroc([.. answers.Select(a => a.Tokens.Average(t => t.Logprob))], [.. answers.Select(a => a.Correct!.Value)]);
            return (model.Profile.Model, accuracy, auroc, answers.Count);
        }).ToList();

        Assert.All(stats, s => Assert.True(s.Count >= 3000));
        Assert.True(stats[0].accuracy < stats[1].accuracy && stats[1].accuracy < stats[2].accuracy, string.Join("; ", stats));
        Assert.True(stats[0].auroc < stats[1].auroc && stats[1].auroc < stats[2].auroc, string.Join("; ", stats));
        Assert.All(stats, s => Assert.InRange(s.auroc, 0.55, 0.9));
    }

    [Fact]
    public void Right_and_wrong_answers_confidence_overlap()
    {
        var model = Fleet[1];
        var answers = QuestionSet.Default.Questions.SelectMany(q => Enumerable.Range(0, 40).Select(seed => model.Generate(q.Prompt, seed, 512, 5, []))).ToList();
        var right = answers.Where(a => a.Correct == true).Select(a => a.Tokens.Average(t => t.Logprob)).Order().ToList();
        var wrong = answers.Where(a => a.Correct == false).Select(a => a.Tokens.Average(t => t.Logprob)).Order().ToList();

        // A quarter of the wrong answers are more confident than the least confident quarter of the right ones.
        Assert.True(wrong[(int)(wrong.Count * 0.75)] > right[(int)(right.Count * 0.25)]);
    }

    [Fact]
    public void The_same_model_prompt_and_seed_give_the_same_answer()
    {
        var prompt = QuestionSet.Default.Questions[3].Prompt;

        var first = Fleet[0].Generate(prompt, 7, 512, 5, []);
        var again = Fleet[0].Generate(prompt, 7, 512, 5, []);
        var otherSeeds = Enumerable.Range(0, 20).Select(seed => Fleet[0].Generate(prompt, seed, 512, 5, []).Text).Distinct().Count();

        Assert.Equal(first.Text, again.Text);
        Assert.Equal(first.Tokens.Select(t => t.Logprob), again.Tokens.Select(t => t.Logprob));
        Assert.True(otherSeeds > 1);
    }

    [Fact]
    public void Tokens_carry_sorted_alternatives_that_include_the_choice_and_sum_below_one()
    {
        foreach (var question in QuestionSet.Default.Questions)
        {
            var answer = Fleet[2].Generate(question.Prompt, 1, 512, 5, []);
            Assert.StartsWith("Answer:", answer.Text, StringComparison.Ordinal);
            Assert.Equal(0, answer.Tokens[0].Logprob);
            foreach (var token in answer.Tokens)
            {
                Assert.InRange(token.Top.Count, 1, 5);
                Assert.Contains(token.Top, t => t.Token == token.Text && t.Logprob == token.Logprob);
                Assert.Equal(token.Top.Select(t => t.Logprob).OrderDescending(), token.Top.Select(t => t.Logprob));
                Assert.True(token.Top.Sum(t => Math.Exp(t.Logprob)) <= 1 + 1e-9);
                Assert.True(token.Logprob <= 0);
            }
        }
    }

    [Fact]
    public void Max_tokens_and_stop_sequences_cut_the_answer()
    {
        var prompt = QuestionSet.Default.Questions[0].Prompt;

        var truncated = Fleet[1].Generate(prompt, 0, 2, 0, []);
        var stopped = Fleet[1].Generate(prompt, 0, 512, 0, [":"]);

        Assert.Equal(("length", "Answer:"), (truncated.FinishReason, truncated.Text));
        Assert.Equal(("stop", "Answer"), (stopped.FinishReason, stopped.Text));
    }

    [Fact]
    public void Self_verification_says_yes_more_often_for_answers_that_are_right()
    {
        var model = Fleet[2];
        var scored = QuestionSet.Default.Questions.Select(q =>
        {
            var answer = model.Generate(q.Prompt, 0, 512, 0, []);
            var yes = model.Score($"{q.Prompt}\nProposed answer:{answer.Text}\nIs the proposed answer correct? Yes or No:", ["Yes", "No"])[0].Logprob;
            return (Yes: yes, Correct: answer.Correct!.Value);
        }).ToList();

        Assert.True(Auroc([.. scored.Select(s => s.Yes)], [.. scored.Select(s => s.Correct)]) > 0.6);
    }

    [Fact]
    public async Task Through_grpc_every_response_says_it_is_simulated()
    {
        await using var worker = new GrpcServiceFactory<Program>(new Dictionary<string, string?>
        {
            ["Worker:Model"] = "llama3.1-70b",
            ["Worker:Backend"] = "simulated",
            ["Worker:SimulateLatency"] = "false",
        });
        var client = new Inference.InferenceClient(worker.Channel);
        var request = new GenerateRequest { Messages = { new ChatMessage { Role = "user", Content = QuestionSet.Default.Questions[0].Prompt } }, TopLogprobs = 5 };

        var response = await client.GenerateAsync(request);
        var chunks = new List<GenerateChunk>();
        using (var call = client.GenerateStream(request))
        {
            await foreach (var chunk in call.ResponseStream.ReadAllAsync())
            {
                chunks.Add(chunk);
            }
        }

        var info = await client.InfoAsync(new InfoRequest());
        var score = await client.ScoreAsync(new ScoreRequest { Prompt = "Do you know the answer? Yes or No:", Candidates = { "Yes", "No" } });

        Assert.True(response.Simulated && info.Simulated && score.Simulated && chunks.All(c => c.Simulated));
        Assert.Equal(response.Text, string.Concat(chunks.Select(c => c.Text)));
        Assert.Equal(response.Tokens, chunks.SelectMany(c => c.Tokens));
        Assert.Equal("simulated", response.Backend);
        Assert.Equal(5, response.Tokens[2].TopLogprobs.Count);
    }

    private static double Auroc(double[] scores, bool[] positive)
    {
        var order = scores.Select((s, i) => (s, positive[i])).OrderBy(p => p.s).ToList();
        double rankSum = 0;
        var i = 0;
        while (i < order.Count)
        {
            var j = i;
            while (j < order.Count && order[j].s == order[i].s)
            {
                j++;
            }

            var rank = (i + j + 1) / 2.0;
            rankSum += order.Skip(i).Take(j - i).Count(p => p.Item2) * rank;
            i = j;
        }

        var positives = positive.Count(p => p);
        var negatives = positive.Length - positives;
        return (rankSum - positives * (positives + 1) / 2.0) / (positives * (double)negatives);
    }
}
