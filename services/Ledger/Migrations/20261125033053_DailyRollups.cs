using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Router.Ledger.Migrations
{
    /// <inheritdoc />
    public partial class DailyRollups : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "daily_rollups",
                columns: table => new
                {
                    day = table.Column<DateOnly>(type: "date", nullable: false),
                    team_id = table.Column<Guid>(type: "uuid", nullable: false),
                    policy = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    final_model = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    requests = table.Column<long>(type: "bigint", nullable: false),
                    failed = table.Column<long>(type: "bigint", nullable: false),
                    cost_usd = table.Column<decimal>(type: "numeric(18,8)", precision: 18, scale: 8, nullable: false),
                    counterfactual_cost_usd = table.Column<decimal>(type: "numeric(18,8)", precision: 18, scale: 8, nullable: false),
                    attempts = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_daily_rollups", x => new { x.day, x.team_id, x.policy, x.final_model });
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "daily_rollups");
        }
    }
}
