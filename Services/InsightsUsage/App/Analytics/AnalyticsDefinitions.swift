import Foundation
import PlanKit
import ServiceKit

/// One stored product event, as the definitions read it.
struct AnalyticsEvent: Sendable, Equatable {
    var person: String
    var name: String
    var time: Date
    var properties: [String: String] = [:]
}

/// The UTC calendar, which every day and week here is counted in.
enum AnalyticsCalendar {
    static let day: TimeInterval = 86_400

    /// Midnight UTC of the day `time` falls in.
    static func dayStart(_ time: Date) -> Date { Date(timeIntervalSince1970: (time.timeIntervalSince1970 / day).rounded(.down) * day) }

    /// Monday 00:00 UTC of the ISO week `time` falls in.
    static func weekStart(_ time: Date) -> Date {
        let start = dayStart(time)
        // 1970-01-01 was a Thursday: days since then, shifted so Monday is 0.
        let weekday = (Int(start.timeIntervalSince1970 / day) + 3) % 7
        return start.addingTimeInterval(-Double(weekday) * day)
    }

    static func label(_ day: Date) -> String { day.utcDayLabel }

    /// The UTC midnight a `label` (`2026-12-01`, as Postgres writes a date) names.
    static func day(_ label: some StringProtocol) -> Date? { Date(iso8601: label + "T00:00:00Z") }
}

/// Percentiles as Postgres's `percentile_cont` computes them: linear between the two nearest ranks.
enum Percentile {
    static func continuous(_ sorted: [Double], _ fraction: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = fraction * Double(sorted.count - 1)
        let lower = Int(rank.rounded(.down))
        let upper = min(lower + 1, sorted.count - 1)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (rank - Double(lower))
    }
}

/// Active users, as PostHog and Amplitude count them. An active user on a day is a person with at least one event that
/// day other than `session_end` (closing a tab is not activity); WAU and MAU are the distinct people active in the 7 and
/// 30 days ending with the day, that day included; stickiness is DAU ÷ MAU.
enum ActiveUsers {
    struct Day: Equatable, Sendable {
        var day: Date
        var dau: Int
        var wau: Int
        var mau: Int
        /// DAU ÷ MAU; nil when nobody was active in the 30 days.
        var stickiness: Decimal?
    }

    static func series(_ events: [AnalyticsEvent], from: Date, through: Date) -> [Day] {
        var activeByDay: [Date: Set<String>] = [:]
        for event in events where event.name != "session_end" {
            activeByDay[AnalyticsCalendar.dayStart(event.time), default: []].insert(event.person)
        }
        func active(endingAt day: Date, days: Int) -> Int {
            var people = Set<String>()
            for offset in 0..<days { people.formUnion(activeByDay[day.addingTimeInterval(-Double(offset) * AnalyticsCalendar.day)] ?? []) }
            return people.count
        }
        var days: [Day] = []
        var day = AnalyticsCalendar.dayStart(from)
        while day <= through {
            let dau = activeByDay[day]?.count ?? 0
            let mau = active(endingAt: day, days: 30)
            days.append(
                Day(day: day, dau: dau, wau: active(endingAt: day, days: 7), mau: mau, stickiness: mau == 0 ? nil : ratio(dau, mau))
            )
            day = day.addingTimeInterval(AnalyticsCalendar.day)
        }
        return days
    }

    static func ratio(_ numerator: Int, _ denominator: Int) -> Decimal {
        (Decimal(numerator) / Decimal(denominator)).rounded(places: 4)
    }
}

/// Sessions, PostHog's way: one person's events in time order, a new session after 30 minutes without an event or
/// once a session would reach 24 hours; a session lasts from its first event to its last (one event: 0 s, a bounce).
enum Sessions {
    static let inactivity: TimeInterval = 30 * 60
    static let longest: TimeInterval = 24 * 3_600

    struct Session: Equatable, Sendable {
        var person: String
        var start: Date
        var end: Date
        var events: Int
        var duration: TimeInterval { end.timeIntervalSince(start) }
    }

    struct Summary: Equatable, Sendable {
        var count: Int
        var medianSeconds: Double?
        var p90Seconds: Double?
        /// One-event sessions ÷ sessions.
        var bounceRate: Decimal?
    }

    static func sessions(_ events: [AnalyticsEvent]) -> [Session] {
        Dictionary(grouping: events, by: \.person).values.flatMap { sessions(ofOnePerson: $0.sorted { $0.time < $1.time }) }
            .sorted { ($0.start, $0.person) < ($1.start, $1.person) }
    }

    /// One person's sessions from their events in time order.
    static func sessions(ofOnePerson ordered: [AnalyticsEvent]) -> [Session] {
        var sessions: [Session] = []
        var current: Session?
        for event in ordered {
            if var open = current, event.time.timeIntervalSince(open.end) <= inactivity, event.time.timeIntervalSince(open.start) < longest {
                open.end = event.time
                open.events += 1
                current = open
            } else {
                if let open = current { sessions.append(open) }
                current = Session(person: event.person, start: event.time, end: event.time, events: 1)
            }
        }
        if let open = current { sessions.append(open) }
        return sessions
    }

    static func summary(_ sessions: [Session]) -> Summary {
        let durations = sessions.map(\.duration).sorted()
        return Summary(
            count: sessions.count,
            medianSeconds: Percentile.continuous(durations, 0.5),
            p90Seconds: Percentile.continuous(durations, 0.9),
            bounceRate: sessions.isEmpty ? nil : ActiveUsers.ratio(sessions.filter { $0.events == 1 }.count, sessions.count)
        )
    }
}

/// An ordered funnel, as Amplitude and PostHog define one: each person is counted once, entering at their first
/// step-1 event in the range; they reach a later step when its event happens after the previous step's, all within
/// the conversion window from entering.
enum Funnel {
    struct Step: Equatable, Sendable {
        var event: String
        /// Properties the event must carry, each with this value.
        var properties: [String: String] = [:]

        func matches(_ event: AnalyticsEvent) -> Bool {
            event.name == self.event && properties.allSatisfy { event.properties[$0.key] == $0.value }
        }
    }

    struct Result: Equatable, Sendable {
        /// People who reached each step (the first is those who entered).
        var reached: [Int]
        /// Last step ÷ first; nil when nobody entered.
        var overall: Decimal?
        /// Each step ÷ the one before it (none for the first).
        var stepConversion: [Decimal?]
        /// Median seconds from entering to the last step, over those who converted.
        var medianSecondsToConvert: Double?
    }

    static let defaultWindow: TimeInterval = 14 * 86_400

    static func compute(_ events: [AnalyticsEvent], steps: [Step], from: Date, to: Date, window: TimeInterval = defaultWindow) -> Result {
        var tally = Tally(steps: steps.count)
        for own in Dictionary(grouping: events, by: \.person).values {
            tally.add(person(own.sorted { $0.time < $1.time }, steps: steps, from: from, to: to, window: window))
        }
        return tally.result
    }

    /// How far one person got: the steps reached (0 when they never entered) and, for a full conversion, how long it took.
    static func person(_ ordered: [AnalyticsEvent], steps: [Step], from: Date, to: Date, window: TimeInterval) -> (steps: Int, seconds: Double?) {
        guard let first = steps.first, let entry = ordered.first(where: { first.matches($0) && $0.time >= from && $0.time < to }) else {
            return (0, nil)
        }
        var last = entry.time
        var step = 1
        for event in ordered where step < steps.count && event.time > last && event.time.timeIntervalSince(entry.time) <= window {
            if steps[step].matches(event) {
                last = event.time
                step += 1
            }
        }
        return (step, step == steps.count && steps.count > 1 ? last.timeIntervalSince(entry.time) : nil)
    }

    /// People's outcomes added up into the funnel's numbers.
    struct Tally {
        var reached: [Int]
        var seconds: [Double] = []

        init(steps: Int) { reached = Array(repeating: 0, count: steps) }

        mutating func add(_ outcome: (steps: Int, seconds: Double?)) {
            for step in 0..<min(outcome.steps, reached.count) { reached[step] += 1 }
            if let time = outcome.seconds { seconds.append(time) }
        }

        var result: Result {
            guard !reached.isEmpty else { return Result(reached: [], overall: nil, stepConversion: [], medianSecondsToConvert: nil) }
            return Result(
                reached: reached,
                overall: reached[0] == 0 ? nil : ActiveUsers.ratio(reached[reached.count - 1], reached[0]),
                stepConversion: reached.indices.dropFirst().map { reached[$0 - 1] == 0 ? nil : ActiveUsers.ratio(reached[$0], reached[$0 - 1]) },
                medianSecondsToConvert: Percentile.continuous(seconds.sorted(), 0.5)
            )
        }
    }
}

/// Retention cohorts, as Amplitude's N-day retention: a person's cohort is the day (or week) of their first event (or
/// first start event) in the range; they are retained in period N when a return event falls in
/// `[first + N·period, first + (N+1)·period)` after their own first moment, or, in the calendar variant, on the
/// cohort's calendar day (week) + N.
enum Retention {
    enum Period: String, Sendable { case day, week }

    struct Cohort: Equatable, Sendable {
        var start: Date
        var size: Int
        /// People retained in periods 0…N (period 0 is everyone with a return event in their first period).
        var retained: [Int]
    }

    struct Query: Sendable, Equatable {
        var period: Period
        var periods: Int
        var from: Date
        var to: Date
        var startEvent: String? = nil
        var returnEvent: String? = nil
        var calendar = false

        var length: TimeInterval { period == .day ? AnalyticsCalendar.day : 7 * AnalyticsCalendar.day }

        func bucket(_ time: Date) -> Date { period == .day ? AnalyticsCalendar.dayStart(time) : AnalyticsCalendar.weekStart(time) }
    }

    static func table(
        _ events: [AnalyticsEvent],
        period: Period,
        periods: Int,
        from: Date,
        to: Date,
        startEvent: String? = nil,
        returnEvent: String? = nil,
        calendar: Bool = false
    ) -> [Cohort] {
        let query = Query(period: period, periods: periods, from: from, to: to, startEvent: startEvent, returnEvent: returnEvent, calendar: calendar)
        var tally = Tally(query: query)
        for own in Dictionary(grouping: events, by: \.person).values { tally.add(person(own.sorted { $0.time < $1.time }, query)) }
        return tally.cohorts
    }

    /// One person's cohort and the periods they came back in; nil when they have no first event in the range.
    static func person(_ ordered: [AnalyticsEvent], _ query: Query) -> (cohort: Date, returned: Set<Int>)? {
        guard
            let first = ordered.first(where: {
                (query.startEvent == nil || $0.name == query.startEvent) && $0.time >= query.from && $0.time < query.to
            })
        else { return nil }
        let cohort = query.bucket(first.time)
        var returned = Set<Int>()
        for event in ordered
        where event.time > first.time && (query.returnEvent == nil || event.name == query.returnEvent) && event.name != "session_end" {
            let n =
                query.calendar
                ? Int((query.bucket(event.time).timeIntervalSince(cohort) / query.length).rounded())
                : Int((event.time.timeIntervalSince(first.time) / query.length).rounded(.down))
            if n >= 0 && n <= query.periods { returned.insert(n) }
        }
        return (cohort, returned)
    }

    /// People's cohorts added up into the table.
    struct Tally {
        let query: Query
        var byCohort: [Date: (size: Int, retained: [Int])] = [:]

        init(query: Query) { self.query = query }

        mutating func add(_ outcome: (cohort: Date, returned: Set<Int>)?) {
            guard let outcome else { return }
            var entry = byCohort[outcome.cohort] ?? (0, Array(repeating: 0, count: query.periods + 1))
            entry.size += 1
            for n in outcome.returned { entry.retained[n] += 1 }
            byCohort[outcome.cohort] = entry
        }

        var cohorts: [Cohort] {
            byCohort.keys.sorted().map { Cohort(start: $0, size: byCohort[$0]!.size, retained: byCohort[$0]!.retained) }
        }
    }
}

/// Feature usage: for each feature, the people who used it ÷ the people active in the range, and uses per user.
enum FeatureUsage {
    struct Feature: Equatable, Sendable {
        var feature: String
        var users: Int
        var uses: Int
        /// Users of the feature ÷ active users; nil when nobody was active.
        var usageRate: Decimal?
        var usesPerUser: Decimal
    }

    static func compute(_ events: [AnalyticsEvent]) -> [Feature] {
        let active = Set(events.filter { $0.name != "session_end" }.map(\.person)).count
        var users: [String: Set<String>] = [:]
        var uses: [String: Int] = [:]
        for event in events where event.name == "feature_used" {
            guard let feature = event.properties["feature"] else { continue }
            users[feature, default: []].insert(event.person)
            uses[feature, default: 0] += 1
        }
        return rank(users.map { ($0.key, $0.value.count, uses[$0.key] ?? 0) }, active: active)
    }

    /// Features from their counts, most used first.
    static func rank(_ counts: [(feature: String, users: Int, uses: Int)], active: Int) -> [Feature] {
        counts.map { feature, users, uses in
            Feature(
                feature: feature,
                users: users,
                uses: uses,
                usageRate: active == 0 ? nil : ActiveUsers.ratio(users, active),
                usesPerUser: users == 0 ? 0 : ActiveUsers.ratio(uses, users)
            )
        }.sorted { ($1.users, $0.feature) < ($0.users, $1.feature) }
    }
}

/// Support tickets from `support_ticket` events that name a `ticket_id`: a ticket opens at its first event (its
/// category is that event's), resolves at its first event with status `resolved` or `closed`.
enum SupportTickets {
    struct Summary: Equatable, Sendable {
        /// Tickets opened per UTC day.
        var openedByDay: [Date: Int]
        var byCategory: [String: Int]
        var resolved: Int
        var medianSecondsToResolve: Double?
    }

    static let resolvedStatuses: Set<String> = ["resolved", "closed"]

    static func compute(_ events: [AnalyticsEvent]) -> Summary {
        var tickets: [String: (opened: Date, category: String, resolved: Date?)] = [:]
        for event in events.sorted(by: { $0.time < $1.time }) where event.name == "support_ticket" {
            guard let id = event.properties["ticket_id"] else { continue }
            var ticket = tickets[id] ?? (event.time, event.properties["category"] ?? "uncategorised", nil)
            if ticket.resolved == nil, resolvedStatuses.contains(event.properties["status"] ?? "") { ticket.resolved = event.time }
            tickets[id] = ticket
        }
        let durations = tickets.values.compactMap { ticket in ticket.resolved.map { $0.timeIntervalSince(ticket.opened) } }.sorted()
        return Summary(
            openedByDay: Dictionary(grouping: tickets.values, by: { AnalyticsCalendar.dayStart($0.opened) }).mapValues(\.count),
            byCategory: Dictionary(grouping: tickets.values, by: \.category).mapValues(\.count),
            resolved: durations.count,
            medianSecondsToResolve: Percentile.continuous(durations, 0.5)
        )
    }
}
