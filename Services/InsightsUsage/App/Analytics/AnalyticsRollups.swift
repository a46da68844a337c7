import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// Daily rollups: per UTC day, each event (with its page, feature, step or ticket category as `detail`) counted in
/// events and people, and `$active` the people active that day. They are what remains of a day once its raw events
/// pass `ANALYTICS_RETENTION_DAYS`, and hold no person. Any write that touches a day marks it stale; the upkeep
/// rebuilds stale days within a minute, and an erasure rebuilds its days at once.
extension AnalyticsQueries {
    struct DailyRow: Equatable, Sendable {
        var day: Date
        var event: String
        var detail: String
        var events: Int
        var people: Int
    }

    static let activeRow = "$active"

    /// Rebuilds the rollups of `days` (UTC midnights) from their events, in `connection`'s transaction.
    static func rebuildRollups(of days: Set<Date>, on connection: PostgresConnection, logger: Logger) async throws {
        guard let first = days.min(), let last = days.max() else { return }
        let labels = days.sorted().map(\.utcDayLabel)
        try await connection.query("DELETE FROM usage.analytics_daily WHERE day = ANY(\(labels)::date[])", logger: logger)
        try await connection.query(
            """
            INSERT INTO usage.analytics_daily (day, event, detail, events, people)
            WITH days AS (
                SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day, event, person,
                    coalesce(CASE event WHEN 'page_view' THEN properties->>'page' WHEN 'feature_used' THEN properties->>'feature'
                        WHEN 'conversion' THEN properties->>'step' WHEN 'support_ticket' THEN properties->>'category' END, '') AS detail
                FROM usage.analytics_events
                WHERE occurred_at >= \(first) AND occurred_at < \(last.addingTimeInterval(AnalyticsCalendar.day))
                    AND (occurred_at AT TIME ZONE 'UTC')::date = ANY(\(labels)::date[])
            )
            SELECT day, event, detail, count(*), count(DISTINCT person) FROM days GROUP BY day, event, detail
            UNION ALL
            SELECT day, \(activeRow), '', count(*), count(DISTINCT person) FROM days WHERE event <> 'session_end' GROUP BY day
            """,
            logger: logger
        )
    }

    /// Rebuilds every stale day still inside retention (older ones have lost their events and keep their rollups),
    /// 100 days per transaction, skipping days another replica is rebuilding. Returns how many were rebuilt.
    @discardableResult
    func refreshRollups(retentionDays: Int, now: Date = Date(), logger: Logger) async throws -> Int {
        let oldest = AnalyticsCalendar.dayStart(now).addingTimeInterval(-Double(retentionDays - 1) * AnalyticsCalendar.day)
        var rebuilt = 0
        while true {
            let claimed = try await postgres.withTransaction(logger: logger) { connection in
                var days: Set<Date> = []
                var claimed = 0
                for try await label in try await connection.query(
                    """
                    DELETE FROM usage.analytics_stale_days WHERE day IN (
                        SELECT day FROM usage.analytics_stale_days ORDER BY day LIMIT 100 FOR UPDATE SKIP LOCKED
                    ) RETURNING day::text
                    """,
                    logger: logger
                ).decode(String.self) {
                    claimed += 1
                    if let day = AnalyticsCalendar.day(label), day >= oldest { days.insert(day) }
                }
                try await Self.rebuildRollups(of: days, on: connection, logger: logger)
                return (claimed, days.count)
            }
            rebuilt += claimed.1
            if claimed.0 < 100 { return rebuilt }
        }
    }

    /// The rollups of `[from, through]`, day by day.
    func daily(from: Date, through: Date, logger: Logger) async throws -> [DailyRow] {
        var rows: [DailyRow] = []
        for try await (day, event, detail, events, people) in try await postgres.query(
            """
            SELECT day::text, event, detail, events::int, people::int FROM usage.analytics_daily
            WHERE day BETWEEN \(from.utcDayLabel)::date AND \(through.utcDayLabel)::date ORDER BY day, event, detail
            """,
            logger: logger
        ).decode((String, String, String, Int, Int).self) {
            guard let date = AnalyticsCalendar.day(day) else { continue }
            rows.append(DailyRow(day: date, event: event, detail: detail, events: events, people: people))
        }
        return rows
    }
}
