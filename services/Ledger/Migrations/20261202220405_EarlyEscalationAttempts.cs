using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Router.Ledger.Migrations
{
    /// <inheritdoc />
    public partial class EarlyEscalationAttempts : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<double>(
                name: "abort_group_confidence",
                table: "attempts",
                type: "double precision",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "aborted_at_token",
                table: "attempts",
                type: "integer",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "abort_group_confidence",
                table: "attempts");

            migrationBuilder.DropColumn(
                name: "aborted_at_token",
                table: "attempts");
        }
    }
}
