using Grpc.Core;
using Router.Contracts;
using Router.Domain.Calibration;
using Router.Domain.Signals;
using DomainSignalOptions = Router.Domain.Signals.SignalOptions;

namespace Router.Scoring;

/// <summary>
/// Turns an attempt into every raw signal and the model's calibrated P(correct). Asks the model's
/// worker for P(True) and P(IK) when the request wants them.
/// </summary>
public sealed class ScoringService(CalibratorRegistry calibrators, ScoreCache cache, IConfiguration configuration, GrpcClientsByName<Inference.InferenceClient>? workers = null) : Router.Contracts.Scoring.ScoringBase
{
    private const string Uncalibrated = "none";

    public override async Task<ScoreAttemptResponse> ScoreAttempt(ScoreAttemptRequest request, ServerCallContext context)
    {
        Validate(request);
        var calibrator = calibrators.Find(request.Model, request.TaskFamily);
        var version = calibrator is null ? Uncalibrated : $"{calibrator.Name}@{calibrator.Version}";
        var key = ScoreCache.Key(request, version);
        if (await cache.GetAsync(key) is { } cached)
        {
            cached.CacheHit = true;
            return cached;
        }

        var tokens = new AttemptTokens(
            [.. request.Tokens.Select(t => t.Token)],
            [.. request.Tokens.Select(t => t.Logprob)],
            [.. request.Tokens.Select(t => (IReadOnlyList<(string, double)>)[.. t.TopLogprobs.Select(a => (a.Token, a.Logprob))])]);
        var options = new DomainSignalOptions
        {
            GroupWindow = request.Options?.GroupWindow > 0 ? request.Options.GroupWindow : 32,
            TailTokens = request.Options?.TailTokens > 0 ? request.Options.TailTokens : 32,
            BottomFraction = request.Options?.BottomFraction > 0 ? request.Options.BottomFraction : 0.1,
            AnswerOptions = [.. request.Options?.AnswerOptions ?? []],
        };

        var (selfVerification, doYouKnow) = await AskWorkerAsync(request, context.CancellationToken);
        var signals = AttemptSignals.Compute(tokens, options, request.Answer, [.. request.Samples], selfVerification, doYouKnow);

        var response = new ScoreAttemptResponse { Model = request.Model };
        foreach (var (name, value) in signals)
        {
            response.Signals[name] = value;
        }

        var confidence = CalibratedConfidence.Of(signals, calibrator?.Artifact);
        response.PCorrect = confidence.PCorrect;
        response.CalibratedSignal = confidence.Signal;
        response.Calibrated = confidence.Calibrated;
        response.Calibrator = confidence.Calibrated ? calibrator!.Name : Uncalibrated;
        if (confidence.Calibrated)
        {
            response.CalibratorVersion = calibrator!.Version;
        }

        cache.Store(key, response);
        return response;
    }

    public override Task<CalibratorSet> Calibrators(CalibratorsRequest request, ServerCallContext context)
    {
        var set = new CalibratorSet();
        set.Calibrators.Add(calibrators.All.Select(c => new StoredCalibrator { Name = c.Name, Version = c.Version, PayloadJson = c.Artifact.ToJson() }));
        return Task.FromResult(set);
    }

    private async Task<((double Yes, double No)? SelfVerification, double? DoYouKnow)> AskWorkerAsync(ScoreAttemptRequest request, CancellationToken cancellationToken)
    {
        if (request.Options is not { PTrue: true } and not { PIk: true })
        {
            return (null, null);
        }

        var service = ServiceNames.Worker(request.Model);
        if (workers is null || configuration[ServiceNames.GrpcAddressKey(service)] is null)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"options.p_true/p_ik need the model's worker, but {ServiceNames.GrpcAddressKey(service)} is not configured."));
        }

        var worker = workers.For(service);
        var question = string.Join("\n", request.Messages.Select(m => m.Content));
        (double, double)? verification = null;
        double? know = null;
        if (request.Options.PTrue)
        {
            var score = await worker.ScoreAsync(new ScoreRequest { Prompt = $"{question}\nProposed answer: {request.Answer}\nIs the proposed answer correct? Answer Yes or No.\nAnswer:", Candidates = { "Yes", "No" } }, cancellationToken: cancellationToken);
            verification = (score.Candidates[0].Logprob, score.Candidates[1].Logprob);
        }

        if (request.Options.PIk)
        {
            var score = await worker.ScoreAsync(new ScoreRequest { Prompt = $"{question}\nDo you know the answer to this question? Answer Yes or No.\nAnswer:", Candidates = { "Yes", "No" } }, cancellationToken: cancellationToken);
            know = score.Candidates[0].Logprob;
        }

        return (verification, know);
    }

    private static void Validate(ScoreAttemptRequest request)
    {
        if (string.IsNullOrWhiteSpace(request.Model))
        {
            throw Invalid("model", "is required.");
        }

        for (var i = 0; i < request.Tokens.Count; i++)
        {
            if (request.Tokens[i].Logprob > 0)
            {
                throw Invalid($"tokens[{i}].logprob", $"must be <= 0 (a log-probability); got {request.Tokens[i].Logprob}.");
            }
        }

        if (request.Options is { } options)
        {
            if (options.GroupWindow < 0 || options.TailTokens < 0)
            {
                throw Invalid("options.group_window/tail_tokens", "must be >= 0 (0 = default).");
            }

            if (options.BottomFraction is < 0 or > 1 || double.IsNaN(options.BottomFraction))
            {
                throw Invalid("options.bottom_fraction", $"must be between 0 and 1; got {options.BottomFraction}.");
            }
        }
    }

    private static RpcException Invalid(string field, string problem) => new(new Status(StatusCode.InvalidArgument, $"{field} {problem}"));
}
