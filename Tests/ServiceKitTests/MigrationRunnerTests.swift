import PostgresNIO
import ServiceKit
import TestSupport
import Testing

@Suite struct MigrationRunnerTests {
    func migrations(_ schema: String) -> [Migration] {
        [
            // No IF NOT EXISTS: applying either of these twice fails, so a double application cannot go unnoticed.
            Migration(1, "accounts", ["CREATE TABLE \(schema).accounts (id bigint PRIMARY KEY)"]),
            Migration(2, "accounts_email", ["ALTER TABLE \(schema).accounts ADD COLUMN email text NOT NULL", "CREATE INDEX ON \(schema).accounts (email)"]),
        ]
    }

    func recordedVersions(_ schema: String, _ client: PostgresClient) async throws -> [Int] {
        var versions: [Int] = []
        for try await version in try await client.query("SELECT version FROM \(unescaped: schema).schema_migrations ORDER BY version").decode(Int.self) {
            versions.append(version)
        }
        return versions
    }

    @Test func appliesOnceWhenRunTwiceInARow() async throws {
        let schema = TestSupport.uniqueSchema("mig")
        let runner = MigrationRunner(schema: schema, migrations: migrations(schema))
        try await TestSupport.withPostgres { client async throws in
            #expect(try await runner.run(on: client, logger: TestSupport.logger) == [1, 2])
            #expect(try await runner.run(on: client, logger: TestSupport.logger) == [])
            #expect(try await recordedVersions(schema, client) == [1, 2])
            #expect(try await runner.currentVersion(on: client, logger: TestSupport.logger) == 2)
        }
    }

    @Test func twoReplicasStartingAtOnceApplyEachMigrationOnce() async throws {
        let schema = TestSupport.uniqueSchema("mig")
        let runner = MigrationRunner(schema: schema, migrations: migrations(schema))
        try await TestSupport.withPostgres { client async throws in
            let results = try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<4 { group.addTask { try await runner.run(on: client, logger: TestSupport.logger) } }
                return try await group.reduce(into: [[Int]]()) { $0.append($1) }
            }
            #expect(results.flatMap { $0 }.sorted() == [1, 2])
            #expect(try await recordedVersions(schema, client) == [1, 2])
        }
    }

    @Test func aFailingMigrationLeavesNothingBehind() async throws {
        let schema = TestSupport.uniqueSchema("mig")
        let broken = migrations(schema) + [Migration(3, "broken", ["ALTER TABLE \(schema).nowhere ADD COLUMN x int"])]
        try await TestSupport.withPostgres { client async throws in
            await #expect(throws: (any Error).self) {
                try await MigrationRunner(schema: schema, migrations: broken).run(on: client, logger: TestSupport.logger)
            }
            #expect(try await MigrationRunner(schema: schema, migrations: []).currentVersion(on: client, logger: TestSupport.logger) == nil)
        }
    }

    @Test func laterMigrationsApplyOnTopOfEarlierOnes() async throws {
        let schema = TestSupport.uniqueSchema("mig")
        try await TestSupport.withPostgres { client async throws in
            try await MigrationRunner(schema: schema, migrations: Array(migrations(schema).prefix(1))).run(on: client, logger: TestSupport.logger)
            #expect(try await MigrationRunner(schema: schema, migrations: migrations(schema)).run(on: client, logger: TestSupport.logger) == [2])
        }
    }
}
