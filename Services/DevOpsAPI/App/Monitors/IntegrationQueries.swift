import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceKit

/// An integration as the API shows it: never its credentials, only which of them are set.
struct IntegrationView: ResponseCodable, Equatable {
    var id: UUID
    var kind: String
    var name: String
    var baseURL: String
    var config: [String: JSONValue]
    var pollSeconds: Int
    var enabled: Bool
    var credentialsSet: [String]
    var health: String
    var healthSince: Date
    var consecutiveFailures: Int
    var lastCheckedAt: Date?
    var lastOutcome: String?
    var nextCheckAt: Date
    var summary: JSONValue?
    var summaryAt: Date?
    var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case id, kind, name, config, enabled, health, summary
        case baseURL = "base_url"
        case pollSeconds = "poll_seconds"
        case credentialsSet = "credentials_set"
        case healthSince = "health_since"
        case consecutiveFailures = "consecutive_failures"
        case lastCheckedAt = "last_checked_at"
        case lastOutcome = "last_outcome"
        case nextCheckAt = "next_check_at"
        case summaryAt = "summary_at"
        case createdAt = "created_at"
    }
}

/// The SQL of integrations: create, read, change and delete them, with their credentials sealed.
struct IntegrationQueries: Sendable {
    let postgres: PostgresClient
    let cipher: SecretCipher

    static let columns = """
        id, kind, name, base_url, config::text, poll_seconds, enabled, health, health_since, consecutive_failures,
        last_checked_at, last_outcome, next_check_at, summary::text, summary_at, created_at
        """

    typealias Row = (UUID, String, String, String, String, Int, Bool, String, Date, Int, Date?, String?, Date, String?, Date?, Date)

    static func view(_ row: Row) -> IntegrationView {
        let kind = IntegrationKind(rawValue: row.1)
        return IntegrationView(
            id: row.0,
            kind: row.1,
            name: row.2,
            baseURL: row.3,
            config: (try? JSONDecoder().decode([String: JSONValue].self, from: Data(row.4.utf8))) ?? [:],
            pollSeconds: row.5,
            enabled: row.6,
            credentialsSet: kind?.credentialFields ?? [],
            health: row.7,
            healthSince: row.8,
            consecutiveFailures: row.9,
            lastCheckedAt: row.10,
            lastOutcome: row.11,
            nextCheckAt: row.12,
            summary: row.13.flatMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) },
            summaryAt: row.14,
            createdAt: row.15
        )
    }

    func seal(_ credentials: [String: String]) throws -> (keyID: String, ciphertext: String) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try cipher.seal(String(decoding: try encoder.encode(credentials), as: UTF8.self))
    }

    func open(_ sealed: String, keyID: String) throws -> [String: String] {
        try JSONDecoder().decode([String: String].self, from: Data(try cipher.open(sealed, keyID: keyID).utf8))
    }

    static func json(_ config: [String: JSONValue]) -> String {
        String(decoding: (try? JSONEncoder().encode(config)) ?? Data("{}".utf8), as: UTF8.self)
    }

    func create(_ draft: IntegrationDraft, by admin: String, logger: Logger) async throws -> IntegrationView {
        let (keyID, sealed) = try seal(draft.credentials)
        let rows = try await postgres.query(
            """
            INSERT INTO devops.integrations (id, kind, name, base_url, credentials_key_id, credentials_sealed, config, poll_seconds, enabled, created_by)
            VALUES (\(UUID()), \(draft.kind.rawValue), \(draft.name), \(draft.baseURL), \(keyID), \(sealed), \(Self.json(draft.config))::jsonb,
                \(draft.pollSeconds), \(draft.enabled), \(admin))
            ON CONFLICT (name) DO NOTHING
            RETURNING \(unescaped: Self.columns)
            """,
            logger: logger
        )
        for try await row in rows.decode(Row.self) { return Self.view(row) }
        throw APIError(.conflict, "integration_exists", "an integration named \(draft.name) exists already")
    }

    static func list(postgres: PostgresClient, logger: Logger) async throws -> [IntegrationView] {
        var views: [IntegrationView] = []
        for try await row in try await postgres.query(
            "SELECT \(unescaped: Self.columns) FROM devops.integrations ORDER BY kind, name",
            logger: logger
        ).decode(Row.self) { views.append(Self.view(row)) }
        return views
    }

    static func find(_ id: UUID, postgres: PostgresClient, logger: Logger) async throws -> IntegrationView {
        for try await row in try await postgres.query(
            "SELECT \(unescaped: Self.columns) FROM devops.integrations WHERE id = \(id)",
            logger: logger
        ).decode(Row.self) { return Self.view(row) }
        throw APIError.notFound("no such integration")
    }

    /// The stored draft, credentials opened, for an update to be applied to.
    func draft(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws -> IntegrationDraft {
        for try await (kind, name, baseURL, keyID, sealed, config, pollSeconds, enabled) in try await connection.query(
            """
            SELECT kind, name, base_url, credentials_key_id, credentials_sealed, config::text, poll_seconds, enabled
            FROM devops.integrations WHERE id = \(id) FOR UPDATE
            """,
            logger: logger
        ).decode((String, String, String, String, String, String, Int, Bool).self) {
            guard let kind = IntegrationKind(rawValue: kind) else { break }
            return IntegrationDraft(
                kind: kind,
                name: name,
                baseURL: baseURL,
                credentials: try open(sealed, keyID: keyID),
                config: try JSONDecoder().decode([String: JSONValue].self, from: Data(config.utf8)),
                pollSeconds: pollSeconds,
                enabled: enabled
            )
        }
        throw APIError.notFound("no such integration")
    }

    /// Applies the update in one transaction. A new address or new credentials are checked soon rather than at the
    /// old schedule.
    func update(_ id: UUID, with update: IntegrationDraft.Update, logger: Logger) async throws -> IntegrationView {
        try await postgres.withTransaction(logger: logger) { connection in
            let current = try await draft(id, on: connection, logger: logger)
            let next = try current.applying(update)
            let (keyID, sealed) = try seal(next.credentials)
            let checkSoon = next.baseURL != current.baseURL || next.credentials != current.credentials || (next.enabled && !current.enabled)
            let rows = try await connection.query(
                """
                UPDATE devops.integrations SET name = \(next.name), base_url = \(next.baseURL), credentials_key_id = \(keyID),
                    credentials_sealed = \(sealed), config = \(Self.json(next.config))::jsonb, poll_seconds = \(next.pollSeconds),
                    enabled = \(next.enabled), updated_at = now(),
                    next_check_at = CASE WHEN \(checkSoon) THEN now() ELSE next_check_at END
                WHERE id = \(id) AND NOT EXISTS (SELECT 1 FROM devops.integrations WHERE name = \(next.name) AND id <> \(id))
                RETURNING \(unescaped: Self.columns)
                """,
                logger: logger
            )
            for try await row in rows.decode(Row.self) { return Self.view(row) }
            throw APIError(.conflict, "integration_exists", "an integration named \(next.name) exists already")
        }
    }

    /// Deletes it with its history; its open incident's alert is resolved, so the status page stops showing it.
    func delete(_ id: UUID, logger: Logger) async throws {
        try await postgres.withTransaction(logger: logger) { connection in
            try await connection.query(
                """
                UPDATE devops.events SET resolved_at = now()
                WHERE id IN (SELECT alert_event_id FROM devops.incidents WHERE integration_id = \(id) AND resolved_at IS NULL)
                """,
                logger: logger
            )
            var deleted = false
            for try await _ in try await connection.query("DELETE FROM devops.integrations WHERE id = \(id) RETURNING id", logger: logger) {
                deleted = true
            }
            guard deleted else { throw APIError.notFound("no such integration") }
        }
    }
}
