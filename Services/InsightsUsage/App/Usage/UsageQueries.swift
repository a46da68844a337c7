import Foundation
import Logging
import PlanKit
import PostgresNIO
import ServiceKit

/// The SQL of usage metering.
enum UsageQueries {
    /// Records the event once per (user, idempotency key): a repeat with the same payload returns the original, a
    /// repeat with another payload is 409. The flag says whether this call created it; a new one is announced on the
    /// user's live stream in the same transaction.
    static func record(
        _ event: UsageRoutes.NewEvent,
        payloadHash: String,
        postgres: PostgresClient,
        logger: Logger
    ) async throws -> (UsageRoutes.RecordedEvent, Bool) {
        let metadata = String(decoding: try JSONEncoder().encode(event.metadata ?? .object([:])), as: UTF8.self)
        // A twin committing while this statement waits is found by the second look.
        for _ in 0..<2 {
            let recorded = try await postgres.withTransaction(logger: logger) { connection -> (UsageRoutes.RecordedEvent, Bool)? in
                let rows = try await connection.query(
                    """
                    WITH inserted AS (
                        INSERT INTO usage.usage_events (id, user_id, event_type, stripe_connection_id, amount, metadata, idempotency_key, payload_sha256)
                        VALUES (\(UUID()), \(event.userId), \(event.eventType), \(event.stripeConnectionId), \(event.amount), \(metadata)::jsonb,
                            \(event.idempotencyKey), \(payloadHash))
                        ON CONFLICT (user_id, idempotency_key) DO NOTHING
                        RETURNING id, user_id, event_type, amount, created_at, payload_sha256, true
                    )
                    SELECT * FROM inserted
                    UNION ALL
                    SELECT id, user_id, event_type, amount, created_at, payload_sha256, false FROM usage.usage_events
                    WHERE user_id = \(event.userId) AND idempotency_key = \(event.idempotencyKey) AND NOT EXISTS (SELECT 1 FROM inserted)
                    """,
                    logger: logger
                )
                for try await (id, user, type, amount, created, hash, isNew) in rows.decode((UUID, String, String, Int64, Date, String, Bool).self) {
                    guard hash == payloadHash else {
                        throw APIError(.conflict, "idempotency_key_reused", "this idempotency key was used for a different event")
                    }
                    if isNew { try await announce(userID: user, at: created, on: connection, logger: logger) }
                    return (UsageRoutes.RecordedEvent(id: id, userId: user, eventType: type, amount: amount, createdAt: created), isNew)
                }
                return nil
            }
            if let recorded { return recorded }
        }
        throw APIError(.serviceUnavailable, "usage_conflict", "the event could not be recorded; retry")
    }

    /// `usage_update` on the user's live stream: the month's counters (of the month `moment` falls in) as they now
    /// stand, on the caller's connection so that it is sent only if the usage it reports commits.
    static func announce(userID: String, at moment: Date, on connection: PostgresConnection, logger: Logger) async throws {
        let period = UsagePeriod(containing: moment)
        let totals = try await totals(userID: userID, period: period, on: connection, logger: logger)
        let update = UsageUpdate(
            period: .init(start: period.start, end: period.end),
            usage: .init(aiInsights: totals.aiInsights, transactionVolume: totals.transactionVolume)
        )
        try await StreamEvents.publish("usage_update", to: userID, payload: update, on: connection, logger: logger)
    }

    /// The month's totals by event time.
    static func totals(userID: String, period: UsagePeriod, on connection: PostgresConnection, logger: Logger) async throws -> (
        aiInsights: Int64, transactionVolume: Int64
    ) {
        var totals: (aiInsights: Int64, transactionVolume: Int64) = (0, 0)
        for try await (type, sum) in try await connection.query(
            """
            SELECT event_type, COALESCE(sum(amount), 0)::bigint FROM usage.usage_events
            WHERE user_id = \(userID) AND created_at >= \(period.start) AND created_at < \(period.end) GROUP BY event_type
            """,
            logger: logger
        ).decode((String, Int64).self) {
            if type == "ai_insight" { totals.aiInsights = sum } else { totals.transactionVolume = sum }
        }
        return totals
    }
}

/// `usage_update` on the live stream: the counters `GET /api/usage/current` reads, for a dashboard to redraw its meters.
struct UsageUpdate: Encodable, Sendable {
    var period: UsageRoutes.CurrentUsage.Period
    var usage: UsageRoutes.CurrentUsage.Counts
}
