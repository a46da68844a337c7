import Foundation
import Logging
import PostgresNIO

/// The SQL of Connect webhooks: the events seen, the newest event applied to each object, and the mark that tells
/// `MetricsRefresher` a connection's metrics are behind its cache.
enum WebhookQueries {
    /// The channel `MetricsRefresher` listens on; notified when a connection's metrics are marked behind.
    static let dirtyChannel = "sync_metrics_dirty"

    static func activeConnection(account: String, postgres: PostgresClient, logger: Logger) async throws -> UUID? {
        for try await id in try await postgres.query(
            "SELECT id FROM sync.stripe_connections WHERE stripe_account_id = \(account) AND active",
            logger: logger
        ).decode(UUID.self) { return id }
        return nil
    }

    static func seen(_ eventID: String, postgres: PostgresClient, logger: Logger) async throws -> Bool {
        for try await _ in try await postgres.query("SELECT 1 FROM sync.connect_events WHERE event_id = \(eventID)", logger: logger) { return true }
        return false
    }

    /// False when the event was already recorded (a duplicate delivery, or two at once).
    static func recordEvent(_ event: ListedEvent, account: String, outcome: String, on connection: PostgresConnection, logger: Logger) async throws
        -> Bool
    {
        let rows = try await connection.query(
            """
            INSERT INTO sync.connect_events (event_id, account_id, type, created, outcome)
            VALUES (\(event.id), \(account), \(event.type), \(Int64(event.created)), \(outcome))
            ON CONFLICT (event_id) DO NOTHING RETURNING 1
            """,
            logger: logger
        )
        for try await _ in rows { return true }
        return false
    }

    /// The `created` of the newest event already applied to the object.
    static func newestEvent(of objectID: String?, account: String, postgres: PostgresClient, logger: Logger) async throws -> Int? {
        guard let objectID else { return nil }
        for try await created in try await postgres.query(
            "SELECT event_created FROM sync.object_versions WHERE account_id = \(account) AND object_id = \(objectID)",
            logger: logger
        ).decode(Int.self) { return created }
        return nil
    }

    static func recordVersion(of objectID: String, eventCreated: Int, account: String, on connection: PostgresConnection, logger: Logger) async throws
    {
        try await connection.query(
            """
            INSERT INTO sync.object_versions (account_id, object_id, event_created) VALUES (\(account), \(objectID), \(Int64(eventCreated)))
            ON CONFLICT (account_id, object_id) DO UPDATE SET event_created = greatest(sync.object_versions.event_created, EXCLUDED.event_created)
            """,
            logger: logger
        )
    }

    static func hasSubscription(_ id: String, account: String, postgres: PostgresClient, logger: Logger) async throws -> Bool {
        for try await _ in try await postgres.query(
            "SELECT 1 FROM sync.subscriptions_cache WHERE account_id = \(account) AND id = \(id)",
            logger: logger
        ) { return true }
        return false
    }

    /// Marks the connection's metrics behind from `from` (unix seconds) on, keeping the earliest mark, and wakes the
    /// refreshers when the transaction commits. `metrics_dirty_at` keeps the first mark's time, so a steady stream of
    /// events is refreshed at a steady pace rather than put off.
    static func markDirty(_ connectionID: UUID, from: Int, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE sync.stripe_connections SET metrics_dirty_from = least(coalesce(metrics_dirty_from, \(Int64(from))), \(Int64(from))),
                metrics_dirty_at = coalesce(metrics_dirty_at, now())
            WHERE id = \(connectionID)
            """,
            logger: logger
        )
        try await connection.query("SELECT pg_notify(\(dirtyChannel), \(connectionID.uuidString))", logger: logger)
    }
}
