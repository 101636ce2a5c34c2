using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Router.Ledger.Migrations
{
    /// <inheritdoc />
    public partial class DeadLetters : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "dead_letters",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    set_aside_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    kind = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    source = table.Column<string>(type: "text", nullable: false),
                    request_id = table.Column<string>(type: "text", nullable: true),
                    sql_state = table.Column<string>(type: "character varying(5)", maxLength: 5, nullable: true),
                    error = table.Column<string>(type: "text", nullable: false),
                    line = table.Column<byte[]>(type: "bytea", nullable: false),
                    line_sha256 = table.Column<byte[]>(type: "bytea", nullable: false),
                    resolved_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    resolution = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_dead_letters", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "ledger_identity",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ledger_identity", x => x.id);
                });

            // Each ledger database names itself once, so journals can tell two databases apart.
            migrationBuilder.Sql("INSERT INTO ledger_identity (id) VALUES (gen_random_uuid());");

            migrationBuilder.CreateIndex(
                name: "IX_dead_letters_line_sha256",
                table: "dead_letters",
                column: "line_sha256",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_dead_letters_resolved_at",
                table: "dead_letters",
                column: "resolved_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "dead_letters");

            migrationBuilder.DropTable(
                name: "ledger_identity");
        }
    }
}
