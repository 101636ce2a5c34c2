using Router.Domain.Signals;
using Xunit;

namespace Router.Domain.Tests.Signals;

public sealed class GroupConfidenceMonitorTests
{
    private const double Tolerance = 1e-12;

    [Fact]
    public void Token_and_group_confidences_follow_the_definitions_token_by_token()
    {
        var monitor = new GroupConfidenceMonitor(window: 2);

        // C = -(0 + -4) / 2 = 2; one token, so the clipped window is that token.
        Assert.Equal(2.0, monitor.Observe(0, [0, -4]), Tolerance);
        Assert.Equal((1, 2.0, 1), (monitor.ScoredTokens, monitor.LowestGroupConfidence, monitor.LowestGroupEndsAt));
        Assert.False(monitor.IsWindowFull);

        // C = 1.05; group (2 + 1.05) / 2.
        Assert.Equal(1.525, monitor.Observe(-0.1, [-0.1, -2]), Tolerance);
        Assert.True(monitor.IsWindowFull);
        Assert.Equal(1.05, monitor.TokenConfidence, Tolerance);

        // C = 0.75; the window drops the first token: (1.05 + 0.75) / 2.
        Assert.Equal(0.9, monitor.Observe(-0.5, [-0.5, -1]), Tolerance);

        // C = 3.25 lifts the group to 2; the lowest stays 0.9, ending at the third token.
        Assert.Equal(2.0, monitor.Observe(-0.5, [-0.5, -6]), Tolerance);
        Assert.Equal(0.9, monitor.LowestGroupConfidence, Tolerance);
        Assert.Equal(3, monitor.LowestGroupEndsAt);
        Assert.Equal(4, monitor.Tokens);
    }

    [Fact]
    public void With_fewer_tokens_than_the_window_the_group_is_the_mean_of_every_token_so_far()
    {
        var monitor = new GroupConfidenceMonitor(window: 4);

        monitor.Observe(-4, []);
        monitor.Observe(-2, []);

        // Before the window is full the lowest group is the current clipped one, even when it rose:
        // the batch signal of a two-token answer has exactly one group, mean(4, 2).
        Assert.Equal(3.0, monitor.GroupConfidence, Tolerance);
        Assert.Equal(3.0, monitor.LowestGroupConfidence, Tolerance);
        Assert.Equal(2, monitor.LowestGroupEndsAt);
        Assert.Equal([3.0], TokenSignals.GroupConfidences([4, 2], 4));
    }

    [Fact]
    public void K_may_vary_from_token_to_token_and_no_alternatives_means_minus_the_chosen_logprob()
    {
        var monitor = new GroupConfidenceMonitor(window: 8);

        monitor.Observe(-1, [-1]);
        Assert.Equal(1.0, monitor.TokenConfidence, Tolerance);
        monitor.Observe(-0.5, [-0.5, -1.5, -2.5]);
        Assert.Equal(1.5, monitor.TokenConfidence, Tolerance);
        monitor.Observe(-0.2, []);
        Assert.Equal(0.2, monitor.TokenConfidence, Tolerance);

        Assert.Equal((1 + 1.5 + 0.2) / 3, monitor.GroupConfidence, Tolerance);
    }

    [Fact]
    public void Nan_tokens_are_skipped_and_minus_infinity_nan_alternatives_and_positive_logprobs_are_bounded()
    {
        var monitor = new GroupConfidenceMonitor(window: 2);

        monitor.Observe(double.NaN, []);
        Assert.Equal((1, 0), (monitor.Tokens, monitor.ScoredTokens));
        Assert.True(double.IsNaN(monitor.GroupConfidence) && double.IsNaN(monitor.TokenConfidence) && double.IsNaN(monitor.LowestGroupConfidence));

        // -inf counts as the floor (-30), a NaN alternative as the floor, a log-prob above 0 as 0.
        monitor.Observe(double.NegativeInfinity, [double.NegativeInfinity, double.NegativeInfinity]);
        Assert.Equal(30.0, monitor.TokenConfidence, Tolerance);
        monitor.Observe(0, [0, double.NaN]);
        Assert.Equal(15.0, monitor.TokenConfidence, Tolerance);
        monitor.Observe(0.2, [0.2, -1]);
        Assert.Equal(0.5, monitor.TokenConfidence, Tolerance);

        Assert.Equal((4, 3), (monitor.Tokens, monitor.ScoredTokens));
        Assert.Equal(7.75, monitor.GroupConfidence, Tolerance);
        Assert.Equal((7.75, 4), (monitor.LowestGroupConfidence, monitor.LowestGroupEndsAt));
    }

    [Fact]
    public void On_every_prefix_it_equals_the_batch_signals_of_that_prefix()
    {
        var random = new Random(5);
        var tokens = new List<string>();
        var logprobs = new List<double>();
        var tops = new List<IReadOnlyList<(string, double)>>();
        var monitor = new GroupConfidenceMonitor(window: 7);
        for (var i = 0; i < 400; i++)
        {
            var chosen = random.Next(25) switch
            {
                0 => double.NaN,
                1 => double.NegativeInfinity,
                _ => -3 * random.NextDouble(),
            };
            var k = random.Next(6);
            var top = Enumerable.Range(0, k).Select(j => ($"t{j}", j == 0 && !double.IsNaN(chosen) ? chosen : -8 * random.NextDouble())).ToList();
            tokens.Add("x");
            logprobs.Add(chosen);
            tops.Add(top);

            monitor.Observe(chosen, [.. top.Select(t => t.Item2)]);

            var confidences = TokenSignals.TokenConfidences(new AttemptTokens(tokens, logprobs, tops));
            var groups = TokenSignals.GroupConfidences(confidences, 7);
            Assert.Equal(confidences[^1], monitor.TokenConfidence, 1e-12);
            if (groups.Length == 0)
            {
                Assert.True(double.IsNaN(monitor.GroupConfidence));
                continue;
            }

            Assert.Equal(groups[^1], monitor.GroupConfidence, 1e-9);
            Assert.Equal(TokenSignals.LowestGroupConfidence(groups), monitor.LowestGroupConfidence, 1e-9);
        }
    }

    [Fact]
    public void Observing_tokens_allocates_nothing()
    {
        var monitor = new GroupConfidenceMonitor(window: 32);
        var top = new double[5];
        monitor.Observe(-0.1, top);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            top[0] = -0.001 * (i % 100);
            top[1] = -2 - (i % 7);
            monitor.Observe(top[0], top);
            monitor.Observe(-0.1, top.AsSpan(0, i % 6));
        }

        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
        Assert.Equal(20_001, monitor.Tokens);
    }

    [Fact]
    public void A_window_below_one_token_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new GroupConfidenceMonitor(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GroupConfidenceMonitor(4, logprobFloor: 0));
    }
}
