using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Router.Ledger.Recording;
using Router.Ledger.Requests;
using Router.Ledger.Teams;

namespace Router.Ledger;

public sealed class LedgerDbContext(DbContextOptions<LedgerDbContext> options) : DbContext(options)
{
    public DbSet<ModelArtifact> Artifacts => Set<ModelArtifact>();

    public DbSet<RoutedRequest> Requests => Set<RoutedRequest>();

    public DbSet<RoutingAttempt> Attempts => Set<RoutingAttempt>();

    public DbSet<FeedbackLabel> Feedback => Set<FeedbackLabel>();

    public DbSet<DailyRollup> DailyRollups => Set<DailyRollup>();

    public DbSet<Team> Teams => Set<Team>();

    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();

    public DbSet<DeadLetter> DeadLetters => Set<DeadLetter>();

    public DbSet<LedgerIdentity> Identity => Set<LedgerIdentity>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<ModelArtifact>(artifact =>
        {
            artifact.ToTable("artifacts");
            artifact.Property(a => a.Id).HasColumnName("id");
            artifact.Property(a => a.Kind).HasColumnName("kind").HasMaxLength(32);
            artifact.Property(a => a.Name).HasColumnName("name").HasMaxLength(200);
            artifact.Property(a => a.Version).HasColumnName("version");
            artifact.Property(a => a.CreatedAt).HasColumnName("created_at");
            artifact.Property(a => a.Provenance).HasColumnName("provenance").HasColumnType("jsonb");
            artifact.Property(a => a.Payload).HasColumnName("payload").HasColumnType("jsonb");
            artifact.HasIndex(a => new { a.Kind, a.Name, a.Version }).IsUnique();
        });

        modelBuilder.Entity<Team>(team =>
        {
            team.ToTable("teams");
            team.HasIndex(t => t.Name).IsUnique();
            team.Property(t => t.Name).HasMaxLength(100);
            team.Property(t => t.MonthlyBudgetUsd).HasPrecision(18, 6);
        });

        modelBuilder.Entity<ApiKey>(key =>
        {
            key.ToTable("api_keys");
            key.Property(k => k.Name).HasMaxLength(100);
            key.Property(k => k.Prefix).HasMaxLength(16);
            key.Property(k => k.Hash).HasMaxLength(64);
            key.HasIndex(k => k.Hash).IsUnique();
            key.HasOne(k => k.Team).WithMany(t => t.Keys).HasForeignKey(k => k.TeamId);
        });

        modelBuilder.Entity<RoutedRequest>(request =>
        {
            request.ToTable("requests");
            request.Property(r => r.Id).HasMaxLength(64);
            request.Property(r => r.Policy).HasMaxLength(200);
            request.Property(r => r.PolicyVersion).HasMaxLength(32);
            request.Property(r => r.Mode).HasMaxLength(16);
            request.Property(r => r.FinalModel).HasMaxLength(128);
            request.Property(r => r.CalibratorVersion).HasMaxLength(200);
            request.Property(r => r.CostUsd).HasPrecision(18, 8);
            request.Property(r => r.CounterfactualCostUsd).HasPrecision(18, 8);
            request.HasMany(r => r.Attempts).WithOne().HasForeignKey(a => a.RequestId);

            // Only the indexes a query reads (a report's time range, optionally one team's; a team's
            // month of spend): every index is written on the request path, once per routed request.
            request.HasIndex(r => r.ReceivedAt);
            request.HasIndex(r => new { r.TeamId, r.ReceivedAt });
        });

        modelBuilder.Entity<RoutingAttempt>(attempt =>
        {
            attempt.ToTable("attempts");
            attempt.HasKey(a => new { a.RequestId, a.Attempt });
            attempt.Property(a => a.Model).HasMaxLength(128);
            attempt.Property(a => a.CostUsd).HasPrecision(18, 8);
            attempt.Property(a => a.Recipe).HasMaxLength(200);
            attempt.Property(a => a.ExtraCostUsd).HasPrecision(18, 8);
            attempt.Property(a => a.ExtraCalls).HasColumnType("jsonb").HasDefaultValue("[]");
            attempt.Property(a => a.Signals).HasColumnType("jsonb");
            attempt.Property(a => a.CalibratorVersion).HasMaxLength(200);
            attempt.Property(a => a.Decision).HasMaxLength(16);
            attempt.Property(a => a.Reason).HasMaxLength(64);
        });

        modelBuilder.Entity<DailyRollup>(rollup =>
        {
            rollup.ToTable("daily_rollups");
            rollup.HasKey(r => new { r.Day, r.TeamId, r.Policy, r.FinalModel });
            rollup.Property(r => r.Policy).HasMaxLength(200);
            rollup.Property(r => r.FinalModel).HasMaxLength(128);
            rollup.Property(r => r.CostUsd).HasPrecision(18, 8);
            rollup.Property(r => r.CounterfactualCostUsd).HasPrecision(18, 8);
        });

        modelBuilder.Entity<FeedbackLabel>(feedback =>
        {
            feedback.ToTable("feedback");
            feedback.HasKey(f => f.RequestId);
            feedback.HasOne<RoutedRequest>().WithOne().HasForeignKey<FeedbackLabel>(f => f.RequestId);

            // Calibration drift reads the labels of a recent window, of every team or of one.
            feedback.HasIndex(f => f.CreatedAt);
            feedback.HasIndex(f => new { f.TeamId, f.CreatedAt });
        });

        modelBuilder.Entity<DeadLetter>(letter =>
        {
            letter.ToTable("dead_letters");
            letter.Property(d => d.Kind).HasMaxLength(16);
            letter.Property(d => d.SqlState).HasMaxLength(5);
            letter.Property(d => d.Resolution).HasMaxLength(16);
            letter.HasIndex(d => d.LineSha256).IsUnique();
            letter.HasIndex(d => d.ResolvedAt);
        });

        modelBuilder.Entity<LedgerIdentity>(identity =>
        {
            identity.ToTable("ledger_identity");
            identity.Property(i => i.Id).ValueGeneratedNever();
        });

        // snake_case columns, so report SQL and psql sessions read naturally.
        foreach (var entity in modelBuilder.Model.GetEntityTypes())
        {
            foreach (var property in entity.GetProperties())
            {
                property.SetColumnName(JsonNamingPolicy.SnakeCaseLower.ConvertName(property.Name));
            }
        }
    }
}
