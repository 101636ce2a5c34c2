using Microsoft.EntityFrameworkCore;

namespace Router.Ledger;

public sealed class LedgerDbContext(DbContextOptions<LedgerDbContext> options) : DbContext(options)
{
    public DbSet<ModelArtifact> Artifacts => Set<ModelArtifact>();

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
    }
}
