import Crypto
import Foundation
import Logging
import PostgresNIO
import ServiceKit
import Synchronization

/// The SQL of product analytics: monthly partitions made as events need them, the daily salts, storing a batch in one
/// transaction, erasure and export of one person, and reading events back for the definitions.
struct AnalyticsQueries: Sendable {
    let postgres: PostgresClient
    /// What this process has already made or read, so ingestion's hot path skips it.
    let memo = Memo()

    final class Memo: Sendable {
        /// Months whose partition exists and which retention will not drop while this process runs.
        let partitions = Mutex(Set<String>())
        let salts = Mutex([Date: SymmetricKey]())
    }

    /// Salts are kept this long, so `$identify` can merge a visitor's anonymous days within ingestion's 30 days; then
    /// they are deleted and those days' hashes can never be linked to anyone again.
    static let saltDays = 31

    /// The salt of each of `days`, made when missing. A day's salt never changes while it is kept, so each process
    /// reads it once; every kept salt is read (again) only for a batch that merges a visitor into a user.
    func salts(for days: Set<Date>, allKept: Bool, logger: Logger) async throws -> [Date: SymmetricKey] {
        let known = memo.salts.withLock { $0 }
        let missing = days.filter { known[$0] == nil }
        guard allKept || !missing.isEmpty else { return known }
        let labels = missing.map(AnalyticsCalendar.label)
        let fresh = labels.map { _ in SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.hexString }
        try await postgres.query(
            """
            INSERT INTO usage.analytics_salts (day, salt)
            SELECT day::date, decode(salt, 'hex') FROM unnest(\(labels)::text[], \(fresh)::text[]) AS s(day, salt)
            ON CONFLICT (day) DO NOTHING
            """,
            logger: logger
        )
        var read: [Date: SymmetricKey] = [:]
        for try await (day, salt) in try await postgres.query(
            """
            SELECT day::text, encode(salt, 'hex') FROM usage.analytics_salts
            WHERE \(allKept) OR day::text = ANY(\(labels)::text[])
            """,
            logger: logger
        ).decode((String, String).self) {
            if let date = AnalyticsCalendar.day(day), let bytes = Data(hex: salt) { read[date] = SymmetricKey(data: bytes) }
        }
        return memo.salts.withLock { salts in
            salts.merge(read) { _, new in new }
            return salts
        }
    }

    /// Deletes salts past their days, after which those days' hashes can never be linked to anyone again.
    func forgetOldSalts(logger: Logger) async throws {
        try await postgres.query(
            "DELETE FROM usage.analytics_salts WHERE day < (now() AT TIME ZONE 'UTC')::date - \(Self.saltDays)::int",
            logger: logger
        )
        let oldest = Date().addingTimeInterval(-Double(Self.saltDays + 1) * AnalyticsCalendar.day)
        memo.salts.withLock { $0 = $0.filter { $0.key >= oldest } }
    }

    /// Partitions for the months of `times`, made once (under a lock, so two replicas never race to make one).
    func ensurePartitions(for times: [Date], logger: Logger) async throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let months = Set(times.map { calendar.dateComponents([.year, .month], from: $0) }).compactMap { month -> (Int, Int)? in
            guard let year = month.year, let number = month.month else { return nil }
            return (year, number)
        }
        let made = memo.partitions.withLock { $0 }
        let needed = months.filter { !made.contains(String(format: "%04d_%02d", $0.0, $0.1)) }
        guard !needed.isEmpty else { return }
        try await postgres.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(hashtext('usage.analytics_partitions'))", logger: logger)
            for (year, month) in needed {
                let next = month == 12 ? (year + 1, 1) : (year, month + 1)
                // Only integers go into the name and bounds.
                let name = String(format: "analytics_events_%04d_%02d", year, month)
                let bounds = String(format: "FROM ('%04d-%02d-01 00:00:00+00') TO ('%04d-%02d-01 00:00:00+00')", year, month, next.0, next.1)
                try await connection.query(
                    "CREATE TABLE IF NOT EXISTS usage.\(unescaped: name) PARTITION OF usage.analytics_events FOR VALUES \(unescaped: bounds)",
                    logger: logger
                )
            }
        }
        memo.partitions.withLock { made in for (year, month) in needed { made.insert(String(format: "%04d_%02d", year, month)) } }
    }

    /// Forgets the ids of events received more than 35 days ago: a retry comes within minutes, and older events are
    /// refused anyway.
    func forgetOldEventIDs(logger: Logger) async throws {
        try await postgres.query("DELETE FROM usage.analytics_event_ids WHERE received_at < now() - interval '35 days'", logger: logger)
    }

    /// Drops the monthly partitions whose every event is older than `days`; returns their names.
    @discardableResult
    func dropPartitions(olderThan days: Int, now: Date = Date(), logger: Logger) async throws -> [String] {
        var dropped: [String] = []
        for try await name in try await postgres.query(
            """
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
            JOIN pg_namespace n ON n.oid = p.relnamespace WHERE n.nspname = 'usage' AND p.relname = 'analytics_events'
            """,
            logger: logger
        ).decode(String.self) {
            guard let match = name.wholeMatch(of: /analytics_events_(\d{4})_(\d{2})/), let year = Int(match.1), let month = Int(match.2) else {
                continue
            }
            let next = month == 12 ? (year + 1, 1) : (year, month + 1)
            guard let end = EventIntake.date(String(format: "%04d-%02d-01T00:00:00Z", next.0, next.1)),
                end < now.addingTimeInterval(-Double(days) * AnalyticsCalendar.day)
            else { continue }
            dropped.append(name)
        }
        for name in dropped {
            // The name matched analytics_events_<digits>_<digits> above: nothing else reaches the statement.
            try await postgres.query("DROP TABLE IF EXISTS usage.\(unescaped: name)", logger: logger)
        }
        // Whichever replica dropped them, no process may think those months still have a partition.
        let cutoff = now.addingTimeInterval(-Double(days) * AnalyticsCalendar.day)
        memo.partitions.withLock { made in
            made = made.filter { month in
                let parts = month.split(separator: "_").compactMap { Int($0) }
                guard parts.count == 2 else { return false }
                let next = parts[1] == 12 ? (parts[0] + 1, 1) : (parts[0], parts[1] + 1)
                return (EventIntake.date(String(format: "%04d-%02d-01T00:00:00Z", next.0, next.1)) ?? .distantPast) >= cutoff
            }
        }
        return dropped
    }

    /// Stores the accepted events and applies their `$identify` merges, in one transaction; events whose uuid was
    /// stored before (in the last 35 days) are skipped, whatever their time. Returns how many were new.
    func store(_ events: [AcceptedEvent], browser: String?, country: String?, logger: Logger) async throws -> Int {
        guard !events.isEmpty else { return 0 }
        return try await postgres.withTransaction(logger: logger) { connection in
            var inserted = 0
            for try await _ in try await connection.query(
                """
                WITH fresh AS (
                    INSERT INTO usage.analytics_event_ids (uuid) SELECT unnest(\(events.map(\.uuid))::uuid[])
                    ON CONFLICT DO NOTHING RETURNING uuid
                ), stored AS (
                    INSERT INTO usage.analytics_events (uuid, person, event, occurred_at, properties, browser, country)
                    SELECT e.uuid, person, event, occurred_at, properties::jsonb, \(browser), \(country)
                    FROM unnest(\(events.map(\.uuid))::uuid[], \(events.map(\.person))::text[], \(events.map(\.name))::text[],
                        \(events.map(\.time))::timestamptz[], \(events.map(\.properties))::text[]) AS e(uuid, person, event, occurred_at, properties)
                    WHERE e.uuid IN (SELECT uuid FROM fresh)
                    RETURNING occurred_at
                ), stale AS (
                    INSERT INTO usage.analytics_stale_days
                    SELECT DISTINCT (occurred_at AT TIME ZONE 'UTC')::date FROM stored ORDER BY 1 ON CONFLICT DO NOTHING
                )
                SELECT 1 FROM stored
                """,
                logger: logger
            ) { inserted += 1 }
            for event in events where !event.mergedAnonymousIDs.isEmpty {
                // The merged days count one person where they counted two.
                try await connection.query(
                    """
                    WITH moved AS (
                        UPDATE usage.analytics_events SET person = \(event.person) WHERE person = ANY(\(event.mergedAnonymousIDs)::text[])
                        RETURNING occurred_at
                    )
                    INSERT INTO usage.analytics_stale_days
                    SELECT DISTINCT (occurred_at AT TIME ZONE 'UTC')::date FROM moved ORDER BY 1 ON CONFLICT DO NOTHING
                    """,
                    logger: logger
                )
            }
            return inserted
        }
    }

    /// Every event of `person`, erased and taken out of the rollups, with a record of the erasure that does not name them.
    func erase(_ person: String, requestedBy: String, logger: Logger) async throws -> Int {
        try await postgres.withTransaction(logger: logger) { connection in
            var removed = 0
            var days: Set<Date> = []
            for try await (day, count) in try await connection.query(
                """
                WITH gone AS (DELETE FROM usage.analytics_events WHERE person = \(person) RETURNING occurred_at)
                SELECT (occurred_at AT TIME ZONE 'UTC')::date::text, count(*)::int FROM gone GROUP BY 1
                """,
                logger: logger
            ).decode((String, Int).self) {
                removed += count
                if let date = AnalyticsCalendar.day(day) { days.insert(date) }
            }
            // The rollups stop counting them now, not at the next upkeep.
            try await Self.rebuildRollups(of: days, on: connection, logger: logger)
            let hashed = Data(SHA256.hash(data: Data(person.utf8))).hexString
            try await connection.query(
                "INSERT INTO usage.analytics_erasures (person_sha256, requested_by, events_removed) VALUES (\(hashed), \(requestedBy), \(removed))",
                logger: logger
            )
            return removed
        }
    }

    struct ExportedEvent: Codable, Equatable, Sendable {
        var uuid: UUID
        var event: String
        var timestamp: Date
        var properties: JSONValue
        var browser: String?
        var country: String?
    }

    func export(_ person: String, logger: Logger) async throws -> [ExportedEvent] {
        var events: [ExportedEvent] = []
        for try await (uuid, name, time, properties, browser, country) in try await postgres.query(
            """
            SELECT uuid, event, occurred_at, properties::text, browser, country FROM usage.analytics_events
            WHERE person = \(person) ORDER BY occurred_at, uuid
            """,
            logger: logger
        ).decode((UUID, String, Date, String, String?, String?).self) {
            let json = (try? JSONDecoder().decode(JSONValue.self, from: Data(properties.utf8))) ?? .object([:])
            events.append(ExportedEvent(uuid: uuid, event: name, timestamp: time, properties: json, browser: browser, country: country))
        }
        return events
    }

    /// Users and uses of each feature, and the people active, in `[from, to)`.
    func featureUsage(from: Date, to: Date, filter: String = "{}", logger: Logger) async throws -> [FeatureUsage.Feature] {
        var counts: [(feature: String, users: Int, uses: Int)] = []
        for try await (feature, users, uses) in try await postgres.query(
            """
            SELECT properties->>'feature', count(DISTINCT person)::int, count(*)::int FROM usage.analytics_events
            WHERE event = 'feature_used' AND properties ? 'feature' AND occurred_at >= \(from) AND occurred_at < \(to)
                AND properties @> \(filter)::jsonb
            GROUP BY 1
            """,
            logger: logger
        ).decode((String, Int, Int).self) { counts.append((feature, users, uses)) }
        var active = 0
        for try await count in try await postgres.query(
            """
            SELECT count(DISTINCT person)::int FROM usage.analytics_events
            WHERE event <> 'session_end' AND occurred_at >= \(from) AND occurred_at < \(to) AND properties @> \(filter)::jsonb
            """,
            logger: logger
        ).decode(Int.self) { active = count }
        return FeatureUsage.rank(counts, active: active)
    }

    /// The tickets of `[from, to)`, each once: when it opened, its category, when it was first resolved.
    func supportTickets(from: Date, to: Date, filter: String = "{}", logger: Logger) async throws -> SupportTickets.Summary {
        var events: [AnalyticsEvent] = []
        for try await (ticket, opened, category, resolved) in try await postgres.query(
            """
            SELECT properties->>'ticket_id', min(occurred_at),
                (array_agg(coalesce(properties->>'category', 'uncategorised') ORDER BY occurred_at, uuid))[1],
                min(occurred_at) FILTER (WHERE properties->>'status' IN ('resolved', 'closed'))
            FROM usage.analytics_events
            WHERE event = 'support_ticket' AND properties ? 'ticket_id' AND occurred_at >= \(from) AND occurred_at < \(to)
                AND properties @> \(filter)::jsonb
            GROUP BY 1
            """,
            logger: logger
        ).decode((String, Date, String, Date?).self) {
            // Each ticket as the two events the definition needs, so the one definition summarises them.
            events.append(AnalyticsEvent(person: "", name: "support_ticket", time: opened, properties: ["ticket_id": ticket, "category": category]))
            if let resolved {
                events.append(
                    AnalyticsEvent(person: "", name: "support_ticket", time: resolved, properties: ["ticket_id": ticket, "status": "resolved"])
                )
            }
        }
        return SupportTickets.compute(events)
    }
}
