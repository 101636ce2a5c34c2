using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Router.Ledger.Migrations
{
    /// <inheritdoc />
    public partial class AttemptRecipeExtraCalls : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "extra_calls",
                table: "attempts",
                type: "jsonb",
                nullable: false,
                defaultValue: "[]");

            migrationBuilder.AddColumn<int>(
                name: "extra_completion_tokens",
                table: "attempts",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<decimal>(
                name: "extra_cost_usd",
                table: "attempts",
                type: "numeric(18,8)",
                precision: 18,
                scale: 8,
                nullable: false,
                defaultValue: 0m);

            migrationBuilder.AddColumn<int>(
                name: "extra_prompt_tokens",
                table: "attempts",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<string>(
                name: "recipe",
                table: "attempts",
                type: "character varying(200)",
                maxLength: 200,
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "extra_calls",
                table: "attempts");

            migrationBuilder.DropColumn(
                name: "extra_completion_tokens",
                table: "attempts");

            migrationBuilder.DropColumn(
                name: "extra_cost_usd",
                table: "attempts");

            migrationBuilder.DropColumn(
                name: "extra_prompt_tokens",
                table: "attempts");

            migrationBuilder.DropColumn(
                name: "recipe",
                table: "attempts");
        }
    }
}
