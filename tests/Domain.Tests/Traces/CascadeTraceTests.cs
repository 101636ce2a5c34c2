using Router.Domain.Traces;
using Router.Testing;
using Xunit;

namespace Router.Domain.Tests.Traces;

public sealed class CascadeTraceTests
{
    [Fact]
    public void Quoted_fields_keep_commas_quotes_and_line_breaks()
    {
        const string csv = "a,b\n\"x, \"\"y\"\"\nz\",2\r\n";

        var rows = CsvReader.ReadRows(new StringReader(csv)).ToList();

        Assert.Equal(2, rows.Count);
        Assert.Equal(["x, \"y\"\nz", "2"], rows[1]);
    }

    [Fact]
    public void A_missing_column_is_named()
    {
        var error = Assert.Throws<FormatException>(() => CascadeTrace.ReadCsv(new StringReader("benchmark,split\nmmlu,test\n")).ToList());

        Assert.Contains("query_idx", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Negative_infinity_and_exact_zero_confidences_are_read()
    {
        const string csv = "benchmark,split,query_idx,chain,model,answer,correct,raw_confidence,conf_signal,tokens_in,tokens_out,cost_usd,latency_ms\n" +
                           "mmlu,test,3,llama,llama3.1-8b,B,1,-inf,mean_answer_token_logprob,10,1,1e-06,12.5\n" +
                           "mmlu,test,4,llama,llama3.1-8b,C,0,0.0,mean_answer_token_logprob,10,1,1e-06,12.5\n";

        var traces = CascadeTrace.ReadCsv(new StringReader(csv)).ToList();

        Assert.Equal(double.NegativeInfinity, traces[0].RawConfidence);
        Assert.True(traces[0].Correct);
        Assert.Equal(0.0, traces[1].RawConfidence);
        Assert.Equal(3, traces[0].QueryIndex);
    }

    [Fact]
    public void The_shared_recorded_traces_load_completely()
    {
        using var reader = SharedData.Open("cascade-traces/traces.csv");

        var traces = CascadeTrace.ReadCsv(reader).ToList();

        Assert.Equal(36144, traces.Count);
        Assert.Equal(9, traces.Select(t => t.Model).Distinct().Count());
        Assert.Contains(traces, t => double.IsNegativeInfinity(t.RawConfidence));
    }
}
