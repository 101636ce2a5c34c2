using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Router.Ledger.Migrations
{
    /// <inheritdoc />
    public partial class DropUnreadIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_requests_final_model_received_at",
                table: "requests");

            migrationBuilder.DropIndex(
                name: "IX_requests_policy_received_at",
                table: "requests");

            migrationBuilder.DropIndex(
                name: "IX_attempts_model",
                table: "attempts");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "IX_requests_final_model_received_at",
                table: "requests",
                columns: new[] { "final_model", "received_at" });

            migrationBuilder.CreateIndex(
                name: "IX_requests_policy_received_at",
                table: "requests",
                columns: new[] { "policy", "received_at" });

            migrationBuilder.CreateIndex(
                name: "IX_attempts_model",
                table: "attempts",
                column: "model");
        }
    }
}
