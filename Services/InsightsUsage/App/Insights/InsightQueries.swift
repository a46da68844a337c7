import Crypto
import Foundation
import Logging
import PlanKit
import PostgresNIO
import ServiceKit

/// The SQL of insights: each stored with its one `ai_insight` usage event, in one transaction.
enum InsightQueries {
    static let columns = "id, connection_id, created_at, engine, model, fallback_reason, narrative::text, report::text"

    /// The user's insight made under this idempotency key, if any.
    static func find(
        userID: String,
        idempotencyKey: String,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> InsightRoutes.Insight? {
        try await first(
            try await connection.query(
                "SELECT \(unescaped: columns) FROM usage.insights WHERE user_id = \(userID) AND idempotency_key = \(idempotencyKey)",
                logger: logger
            )
        )
    }

    /// Stores the insight and counts it, unless the idempotency key already has one (then that one is returned and
    /// nothing is counted). `hardLimit` is enforced here too, under a per-user lock, so that concurrent requests
    /// cannot together pass it.
    static func store(
        _ insight: InsightRoutes.Insight,
        userID: String,
        idempotencyKey: String?,
        hardLimit: Int64?,
        period: UsagePeriod,
        postgres: PostgresClient,
        logger: Logger
    ) async throws -> (insight: InsightRoutes.Insight, created: Bool) {
        let encoder = JSONEncoder()
        let narrative = String(decoding: try encoder.encode(insight.narrative), as: UTF8.self)
        let report = String(decoding: try encoder.encode(insight.report), as: UTF8.self)
        let eventKey = "insight:\(insight.id.uuidString.lowercased())"
        let metadata = #"{"insight_id":"\#(insight.id.uuidString.lowercased())","engine":"\#(insight.engine)"}"#
        return try await postgres.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended(\("usage.insights:" + userID), 0))", logger: logger)
            if let idempotencyKey, let existing = try await find(userID: userID, idempotencyKey: idempotencyKey, on: connection, logger: logger) {
                return (existing, false)
            }
            if let hardLimit {
                let used = try await UsageQueries.totals(userID: userID, period: period, on: connection, logger: logger).aiInsights
                if used >= hardLimit { throw InsightRoutes.limitReached(limit: hardLimit) }
            }
            try await connection.query(
                """
                INSERT INTO usage.insights (id, user_id, connection_id, idempotency_key, engine, model, fallback_reason, narrative, report, created_at)
                VALUES (\(insight.id), \(userID), \(insight.connectionId), \(idempotencyKey), \(insight.engine), \(insight.model),
                    \(insight.fallbackReason), \(narrative)::jsonb, \(report)::jsonb, \(insight.createdAt))
                """,
                logger: logger
            )
            try await connection.query(
                """
                INSERT INTO usage.usage_events (id, user_id, event_type, stripe_connection_id, amount, metadata, idempotency_key, payload_sha256, created_at)
                VALUES (\(UUID()), \(userID), 'ai_insight', \(insight.connectionId.uuidString.lowercased()), 1, \(metadata)::jsonb, \(eventKey),
                    \(Data(SHA256.hash(data: Data(eventKey.utf8))).hexString), \(insight.createdAt))
                """,
                logger: logger
            )
            try await UsageQueries.announce(userID: userID, at: insight.createdAt, on: connection, logger: logger)
            return (insight, true)
        }
    }

    /// The user's insights on one connection, newest first.
    static func history(
        userID: String,
        connectionID: UUID,
        limit: Int,
        postgres: PostgresClient,
        logger: Logger
    ) async throws -> [InsightRoutes.Insight] {
        try await all(
            try await postgres.query(
                """
                SELECT \(unescaped: columns) FROM usage.insights WHERE user_id = \(userID) AND connection_id = \(connectionID)
                ORDER BY created_at DESC, id LIMIT \(limit)
                """,
                logger: logger
            )
        )
    }

    private static func first(_ rows: PostgresRowSequence) async throws -> InsightRoutes.Insight? {
        try await all(rows).first
    }

    private static func all(_ rows: PostgresRowSequence) async throws -> [InsightRoutes.Insight] {
        let decoder = JSONDecoder()
        var insights: [InsightRoutes.Insight] = []
        for try await (id, connection, created, engine, model, fallback, narrative, report) in rows.decode(
            (UUID, UUID, Date, String, String?, String?, String, String).self
        ) {
            insights.append(
                InsightRoutes.Insight(
                    id: id,
                    connectionId: connection,
                    createdAt: created,
                    engine: engine,
                    model: model,
                    fallbackReason: fallback,
                    narrative: try decoder.decode(InsightNarrative.self, from: Data(narrative.utf8)),
                    report: try decoder.decode(InsightReport.self, from: Data(report.utf8))
                )
            )
        }
        return insights
    }
}
