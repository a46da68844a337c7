import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// The admins' questions answered in SQL, so they scale with the database rather than with this process's memory.
/// Each follows its definition in `AnalyticsDefinitions.swift` exactly; the tests check one against the other on
/// generated histories.
extension AnalyticsQueries {
    /// Runs one question's statements with room to sort and hash a quarter's events in memory.
    func answering<Answer: Sendable>(logger: Logger, _ body: (PostgresConnection) async throws -> Answer) async throws -> Answer {
        try await postgres.withTransaction(logger: logger) { connection in
            try await connection.query("SET LOCAL work_mem = '64MB'", logger: logger)
            return try await body(connection)
        }
    }

    /// DAU, WAU and MAU for each day of `[from, through]`. Each person's active days become spans that cover a day
    /// and the 6 (WAU) or 29 (MAU) after it, cut short where their next active day starts a span of its own, so a
    /// running sum over the days counts every person once per window without comparing days pairwise.
    func activeUsers(from: Date, through: Date, filter: String = "{}", logger: Logger) async throws -> [ActiveUsers.Day] {
        let earliest = from.addingTimeInterval(-29 * AnalyticsCalendar.day)
        let end = through.addingTimeInterval(AnalyticsCalendar.day)
        return try await answering(logger: logger) { connection in
            var days: [ActiveUsers.Day] = []
            for try await (day, dau, wau, mau) in try await connection.query(
                """
                WITH active AS (
                    SELECT DISTINCT person, (occurred_at AT TIME ZONE 'UTC')::date AS day FROM usage.analytics_events
                    WHERE event <> 'session_end' AND occurred_at >= \(earliest) AND occurred_at < \(end) AND properties @> \(filter)::jsonb
                ), spans AS (
                    SELECT day, lead(day) OVER (PARTITION BY person ORDER BY day) AS next FROM active
                ), changes AS (
                    SELECT day, 1 AS dau, 1 AS wau, 1 AS mau FROM spans
                    UNION ALL SELECT day + 1, -1, 0, 0 FROM spans
                    UNION ALL SELECT least(day + 7, coalesce(next, day + 7)), 0, -1, 0 FROM spans
                    UNION ALL SELECT least(day + 30, coalesce(next, day + 30)), 0, 0, -1 FROM spans
                ), per_day AS (
                    SELECT day, sum(dau) AS dau, sum(wau) AS wau, sum(mau) AS mau FROM changes GROUP BY day
                ), running AS (
                    SELECT s.day, sum(coalesce(p.dau, 0)) OVER w AS dau, sum(coalesce(p.wau, 0)) OVER w AS wau,
                        sum(coalesce(p.mau, 0)) OVER w AS mau
                    FROM (SELECT d::date AS day FROM generate_series(\(earliest.utcDayLabel)::date, \(through.utcDayLabel)::date, interval '1 day') d) s
                    LEFT JOIN per_day p USING (day)
                    WINDOW w AS (ORDER BY s.day)
                )
                SELECT day::text, dau::int, wau::int, mau::int FROM running WHERE day >= \(from.utcDayLabel)::date ORDER BY day
                """,
                logger: logger
            ).decode((String, Int, Int, Int).self) {
                guard let date = AnalyticsCalendar.day(day) else { continue }
                days.append(ActiveUsers.Day(day: date, dau: dau, wau: wau, mau: mau, stickiness: mau == 0 ? nil : ActiveUsers.ratio(dau, mau)))
            }
            return days
        }
    }

    /// Sessions of `[from, to)`. A person's events split where 30 minutes pass without one; a visit shorter than
    /// 24 hours is one session. The rare longer visit (a tab left polling all day) is split by the definition itself,
    /// reading only its events, and its sessions join the others for the percentiles.
    func sessions(from: Date, to: Date, filter: String = "{}", logger: Logger) async throws -> Sessions.Summary {
        try await answering(logger: logger) { connection in
            try await connection.query(
                """
                CREATE TEMP TABLE visits ON COMMIT DROP AS
                WITH ordered AS (
                    SELECT person, uuid, occurred_at,
                        coalesce(occurred_at - lag(occurred_at) OVER w > interval '30 minutes', true) AS opens
                    FROM usage.analytics_events
                    WHERE occurred_at >= \(from) AND occurred_at < \(to) AND properties @> \(filter)::jsonb
                    WINDOW w AS (PARTITION BY person ORDER BY occurred_at, uuid)
                ), numbered AS (
                    SELECT person, occurred_at, count(*) FILTER (WHERE opens) OVER (PARTITION BY person ORDER BY occurred_at, uuid) AS visit
                    FROM ordered
                )
                SELECT person, min(occurred_at) AS first, max(occurred_at) AS last, count(*)::int AS events
                FROM numbered GROUP BY person, visit
                """,
                logger: logger
            )
            var long: [Sessions.Session] = []
            var current: [AnalyticsEvent] = []
            for try await (person, time) in try await connection.query(
                """
                SELECT e.person, e.occurred_at FROM visits v
                JOIN usage.analytics_events e ON e.person = v.person AND e.occurred_at BETWEEN v.first AND v.last
                WHERE v.last - v.first >= interval '24 hours' AND e.properties @> \(filter)::jsonb
                ORDER BY e.person, e.occurred_at, e.uuid
                """,
                logger: logger
            ).decode((String, Date).self) {
                // Consecutive visits of one person are split by their own 30-minute gaps again, so reading them together is the same.
                if let last = current.last, last.person != person {
                    long += Sessions.sessions(ofOnePerson: current)
                    current.removeAll(keepingCapacity: true)
                }
                current.append(AnalyticsEvent(person: person, name: "", time: time))
            }
            if !current.isEmpty { long += Sessions.sessions(ofOnePerson: current) }
            var summary = Sessions.Summary(count: 0)
            for try await (count, bounces, median, p90) in try await connection.query(
                """
                WITH sessions AS (
                    SELECT extract(epoch FROM last - first)::float8 AS seconds, events FROM visits WHERE last - first < interval '24 hours'
                    UNION ALL SELECT * FROM unnest(\(long.map(\.duration))::float8[], \(long.map(\.events))::int[])
                )
                SELECT count(*)::int, (count(*) FILTER (WHERE events = 1))::int,
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds), percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds)
                FROM sessions
                """,
                logger: logger
            ).decode((Int, Int, Double?, Double?).self) {
                summary = Sessions.Summary(
                    count: count,
                    medianSeconds: median,
                    p90Seconds: p90,
                    bounceRate: count == 0 ? nil : ActiveUsers.ratio(bounces, count)
                )
            }
            return summary
        }
    }

    /// An ordered funnel: people entering at their first step-1 event in `[from, to)`, then for each later step the
    /// earliest matching event after the step before, within `window` of entering; one join per step.
    func funnel(steps: [Funnel.Step], from: Date, to: Date, window: TimeInterval, filter: String = "{}", logger: Logger) async throws
        -> Funnel.Result
    {
        var bindings = PostgresBindings()
        func bind(_ value: some PostgresDynamicTypeEncodable) -> String {
            bindings.append(value, context: .default)
            return "$\(bindings.count)"
        }
        let global = bind(filter)
        let windowSeconds = bind(window)
        let readUntil = bind(to.addingTimeInterval(window))
        let earliest = bind(from)
        let stepFilters = try steps.map { step in
            String(decoding: try JSONEncoder().encode(step.properties), as: UTF8.self)
        }
        var sql = """
            WITH step1 AS (
                SELECT person, min(occurred_at) AS entered, min(occurred_at) AS at FROM usage.analytics_events
                WHERE event = \(bind(steps[0].event)) AND properties @> \(bind(stepFilters[0]))::jsonb AND properties @> \(global)::jsonb
                    AND occurred_at >= \(earliest) AND occurred_at < \(bind(to))
                GROUP BY person
            )
            """
        for index in steps.indices.dropFirst() {
            sql += """
                , step\(index + 1) AS (
                    SELECT s.person, s.entered, min(e.occurred_at) AS at FROM step\(index) s
                    JOIN usage.analytics_events e ON e.person = s.person AND e.occurred_at > s.at
                        AND e.occurred_at <= s.entered + make_interval(secs => \(windowSeconds))
                    WHERE e.event = \(bind(steps[index].event)) AND e.properties @> \(bind(stepFilters[index]))::jsonb
                        AND e.properties @> \(global)::jsonb AND e.occurred_at >= \(earliest) AND e.occurred_at < \(readUntil)
                    GROUP BY s.person, s.entered
                )
                """
        }
        let counts = steps.indices.map { "(SELECT count(*)::int FROM step\($0 + 1))" }.joined(separator: ", ")
        sql += """

            SELECT ARRAY[\(counts)], (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM at - entered)::float8) FROM step\(steps.count))
            """
        let query = PostgresQuery(unsafeSQL: sql, binds: bindings)
        return try await answering(logger: logger) { connection in
            var result = Funnel.Tally(steps: steps.count).result
            for try await (reached, median) in try await connection.query(query, logger: logger).decode(([Int], Double?).self) {
                var tally = Funnel.Tally(steps: steps.count)
                tally.reached = reached
                result = tally.result
                result.medianSecondsToConvert = median
            }
            return result
        }
    }

    /// The retention table: each person's first (start) event in `[from, to)` puts them in a cohort; their later
    /// return events become period numbers, counted once per person and period.
    func retention(_ query: Retention.Query, filter: String = "{}", logger: Logger) async throws -> [Retention.Cohort] {
        let unit = query.period.rawValue
        let readUntil = query.to.addingTimeInterval(Double(query.periods + 1) * query.length)
        return try await answering(logger: logger) { connection in
            var sizes: [Date: Int] = [:]
            var retained: [Date: [Int]] = [:]
            for try await (label, period, people) in try await connection.query(
                """
                WITH cohorts AS (
                    SELECT person, min(occurred_at) AS first, date_trunc(\(unit), min(occurred_at) AT TIME ZONE 'UTC') AS cohort
                    FROM usage.analytics_events
                    WHERE occurred_at >= \(query.from) AND occurred_at < \(query.to) AND (\(query.startEvent)::text IS NULL OR event = \(query.startEvent))
                        AND properties @> \(filter)::jsonb
                    GROUP BY person
                ), returns AS (
                    SELECT DISTINCT c.person, c.cohort,
                        CASE WHEN \(query.calendar)
                            THEN round(extract(epoch FROM date_trunc(\(unit), e.occurred_at AT TIME ZONE 'UTC') - c.cohort)::float8 / \(query.length))
                            ELSE floor(extract(epoch FROM e.occurred_at - c.first)::float8 / \(query.length)) END AS period
                    FROM cohorts c JOIN usage.analytics_events e ON e.person = c.person
                    WHERE e.occurred_at > c.first AND e.occurred_at >= \(query.from) AND e.occurred_at < \(readUntil) AND e.event <> 'session_end'
                        AND (\(query.returnEvent)::text IS NULL OR e.event = \(query.returnEvent)) AND e.properties @> \(filter)::jsonb
                )
                SELECT cohort::date::text, -1, count(*)::int FROM cohorts GROUP BY cohort
                UNION ALL
                SELECT cohort::date::text, period::int, count(*)::int FROM returns WHERE period BETWEEN 0 AND \(query.periods) GROUP BY cohort, period
                """,
                logger: logger
            ).decode((String, Int, Int).self) {
                guard let cohort = AnalyticsCalendar.day(label) else { continue }
                if period < 0 {
                    sizes[cohort] = people
                } else {
                    retained[cohort, default: Array(repeating: 0, count: query.periods + 1)][period] = people
                }
            }
            return sizes.keys.sorted().map {
                Retention.Cohort(start: $0, size: sizes[$0] ?? 0, retained: retained[$0] ?? Array(repeating: 0, count: query.periods + 1))
            }
        }
    }
}
