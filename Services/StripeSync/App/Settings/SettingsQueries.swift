import Foundation
import Logging
import PostgresNIO
import RevenueMath
import ServiceKit

/// The `metric_settings` of `sync.stripe_connections`.
enum SettingsQueries {
    /// The settings of the user's active connection; nil when it is not theirs or not there.
    static func settings(of id: UUID, userID: String, postgres: PostgresClient, logger: Logger) async throws -> MetricSettings? {
        for try await text in try await postgres.query(
            "SELECT metric_settings::text FROM sync.stripe_connections WHERE id = \(id) AND user_id = \(userID) AND active",
            logger: logger
        ).decode(String.self) {
            return try JSONDecoder().decode(MetricSettings.self, from: Data(text.utf8))
        }
        return nil
    }

    /// The settings a rebuild of the connection uses (the defaults for a connection without any).
    static func settings(of id: UUID, postgres: PostgresClient, logger: Logger) async throws -> MetricSettings {
        for try await text in try await postgres.query(
            "SELECT metric_settings::text FROM sync.stripe_connections WHERE id = \(id)",
            logger: logger
        ).decode(String.self) {
            return try JSONDecoder().decode(MetricSettings.self, from: Data(text.utf8))
        }
        return MetricSettings()
    }

    /// Stores the settings and queues the rebuild that applies them, in one transaction.
    static func store(_ settings: MetricSettings, for id: UUID, postgres: PostgresClient, logger: Logger) async throws {
        let json = String(decoding: try JSONEncoder().encode(settings), as: UTF8.self)
        try await postgres.withTransaction(logger: logger) { connection in
            try await connection.query(
                "UPDATE sync.stripe_connections SET metric_settings = \(json)::jsonb, updated_at = now() WHERE id = \(id)",
                logger: logger
            )
            try await connection.query(
                """
                INSERT INTO sync.sync_jobs (id, connection_id, kind) VALUES (gen_random_uuid(), \(id), 'incremental')
                ON CONFLICT (connection_id) WHERE status IN ('queued', 'running') DO NOTHING
                """,
                logger: logger
            )
        }
    }
}
