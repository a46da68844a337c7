import Logging
import PostgresNIO

/// One step of a schema's history. Statements run in order, one per query, inside the run's transaction.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    public let statements: [String]

    public init(_ version: Int, _ name: String, _ statements: [String]) {
        self.version = version
        self.name = name
        self.statements = statements
    }
}

/// Applies a schema's pending migrations once each, in one transaction, under an advisory lock so that
/// replicas starting together wait for each other instead of applying a migration twice.
public struct MigrationRunner: Sendable {
    public let schema: String
    public let migrations: [Migration]

    public init(schema: String, migrations: [Migration]) {
        precondition(schema.allSatisfy { $0.isLetter || $0 == "_" }, "schema names are plain identifiers")
        precondition(zip(migrations, migrations.dropFirst()).allSatisfy { $0.version < $1.version }, "migration versions must increase")
        self.schema = schema
        self.migrations = migrations
    }

    public var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Returns the versions this call applied (empty when the schema was already current).
    @discardableResult
    public func run(on client: PostgresClient, logger: Logger) async throws -> [Int] {
        let lockKey = "revmesh.migrations.\(schema)"
        return try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(lockKey)))", logger: logger)
            try await connection.query("CREATE SCHEMA IF NOT EXISTS \(unescaped: schema)", logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS \(unescaped: schema).schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                logger: logger
            )
            var applied = Set<Int>()
            for try await version in try await connection.query("SELECT version FROM \(unescaped: schema).schema_migrations", logger: logger)
                .decode(Int.self)
            {
                applied.insert(version)
            }
            var appliedNow: [Int] = []
            for migration in migrations where !applied.contains(migration.version) {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO \(unescaped: schema).schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))",
                    logger: logger
                )
                logger.info("applied migration", metadata: ["schema": .string(schema), "version": .stringConvertible(migration.version)])
                appliedNow.append(migration.version)
            }
            return appliedNow
        }
    }

    /// The highest applied version, or nil when the schema has never been migrated.
    public func currentVersion(on client: PostgresClient, logger: Logger) async throws -> Int? {
        let table = "\(schema).schema_migrations"
        guard try await client.scalar("SELECT to_regclass(\(table)) IS NOT NULL", as: Bool.self, logger: logger) == true else { return nil }
        return try await client.scalar("SELECT coalesce(max(version), 0) FROM \(unescaped: schema).schema_migrations", as: Int.self, logger: logger)
    }
}

extension PostgresClient {
    /// The first column of the last row, reading the whole result so that the connection goes back to the pool.
    public func scalar<Value: PostgresDecodable>(_ query: PostgresQuery, as _: Value.Type, logger: Logger) async throws -> Value? {
        var result: Value?
        for try await value in try await self.query(query, logger: logger).decode(Value.self) {
            result = value
        }
        return result
    }
}
