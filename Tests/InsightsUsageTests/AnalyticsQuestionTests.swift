import Foundation
import ServiceKit
import TestSupport
import Testing

@testable import InsightsUsage

/// The SQL of every question against its definition, on one generated history with the awkward cases added: a tab
/// polling for three days (sessions cut at 24 hours), events at the same instant, a repeated funnel step. The history
/// lies 250 days back, where no other test writes.
@Suite(.serialized) struct AnalyticsQuestionTests {
    static let start = AnalyticsCalendar.dayStart(Date().addingTimeInterval(-250 * 86_400))
    static let through = start.addingTimeInterval(44 * 86_400)
    static let end = through.addingTimeInterval(86_400)

    static func events() -> [AnalyticsEvent] {
        var events = AnalyticsTests.history(people: 60, days: 45, start: start, seed: 7_001)
        let poller = "poller-7001"
        for step in 0..<(3 * 24 * 6) {
            events.append(
                AnalyticsEvent(
                    person: poller,
                    name: "page_view",
                    time: start.addingTimeInterval(3_600 + Double(step) * 600),
                    properties: ["page": "/"]
                )
            )
        }
        let twin = start.addingTimeInterval(5 * 86_400 + 123.456)
        events.append(AnalyticsEvent(person: "twin-7001", name: "page_view", time: twin, properties: ["page": "/signup"]))
        events.append(AnalyticsEvent(person: "twin-7001", name: "conversion", time: twin, properties: ["step": "trial"]))
        events.append(AnalyticsEvent(person: "twin-7001", name: "conversion", time: twin.addingTimeInterval(1), properties: ["step": "trial"]))
        return events
    }

    static func withHistory(_ test: @Sendable (AnalyticsQueries, [AnalyticsEvent]) async throws -> Void) async throws {
        try await TestSupport.withPostgres { postgres in
            try await InsightsUsageService.descriptor.migrate(on: postgres, logger: TestSupport.logger)
            let queries = AnalyticsQueries(postgres: postgres)
            let events = Self.events()
            try await queries.ensurePartitions(for: events.map(\.time), logger: TestSupport.logger)
            // Stored once per run of the suite's process: a second call finds its uuids and adds nothing.
            let accepted = try events.enumerated().map { index, event in
                try Self.accepted(event, uuid: UUID(uuidString: String(format: "00000000-0000-4000-8000-%012x", 7_001_000_000 + index))!)
            }
            for batch in stride(from: 0, to: accepted.count, by: 1_000) {
                _ = try await queries.store(
                    Array(accepted[batch..<min(batch + 1_000, accepted.count)]),
                    browser: nil,
                    country: nil,
                    logger: TestSupport.logger
                )
            }
            try await test(queries, events)
        }
    }

    static func accepted(_ event: AnalyticsEvent, uuid: UUID) throws -> AcceptedEvent {
        AcceptedEvent(
            uuid: uuid,
            person: event.person,
            name: event.name,
            time: event.time,
            properties: String(decoding: try JSONEncoder().encode(event.properties), as: UTF8.self)
        )
    }

    @Test func activeUsersAndSessionsInSQLAreTheDefinitions() async throws {
        try await Self.withHistory { queries, events in
            let days = try await queries.activeUsers(from: Self.start, through: Self.through, logger: TestSupport.logger)
            #expect(days == ActiveUsers.series(events, from: Self.start, through: Self.through))

            let inRange = events.filter { $0.time >= Self.start && $0.time < Self.end }
            let expected = Sessions.summary(Sessions.sessions(inRange))
            #expect(Sessions.sessions(inRange).contains { $0.duration >= 23 * 3_600 }, "the poller's day-long sessions are in the case")
            let summary = try await queries.sessions(from: Self.start, to: Self.end, logger: TestSupport.logger)
            #expect(summary.count == expected.count && summary.bounceRate == expected.bounceRate)
            #expect(abs((summary.medianSeconds ?? -1) - (expected.medianSeconds ?? -2)) < 0.001)
            #expect(abs((summary.p90Seconds ?? -1) - (expected.p90Seconds ?? -2)) < 0.001)

            let signups = try await queries.activeUsers(
                from: Self.start,
                through: Self.through,
                filter: #"{"page":"/signup"}"#,
                logger: TestSupport.logger
            )
            #expect(signups == ActiveUsers.series(events.filter { $0.properties["page"] == "/signup" }, from: Self.start, through: Self.through))
        }
    }

    @Test func funnelsInSQLAreTheDefinition() async throws {
        try await Self.withHistory { queries, events in
            let cases: [([Funnel.Step], TimeInterval)] = [
                (
                    [.init(event: "page_view", properties: ["page": "/signup"]), .init(event: "conversion"), .init(event: "feature_used")],
                    14 * 86_400
                ),
                ([.init(event: "page_view", properties: ["page": "/signup"]), .init(event: "conversion"), .init(event: "conversion")], 86_400),
                (
                    [
                        .init(event: "page_view"), .init(event: "page_view"), .init(event: "feature_used", properties: ["feature": "export"]),
                        .init(event: "session_end"),
                    ], 3_600
                ),
            ]
            for (steps, window) in cases {
                let expected = Funnel.compute(events, steps: steps, from: Self.start, to: Self.end, window: window)
                let answer = try await queries.funnel(steps: steps, from: Self.start, to: Self.end, window: window, logger: TestSupport.logger)
                #expect(answer.reached == expected.reached && answer.overall == expected.overall && answer.stepConversion == expected.stepConversion)
                #expect(abs((answer.medianSecondsToConvert ?? -1) - (expected.medianSecondsToConvert ?? -1)) < 0.001, "\(steps)")
                #expect(expected.reached.last ?? 0 > 0, "a case that converts somebody")
            }
        }
    }

    @Test func retentionInSQLIsTheDefinition() async throws {
        try await Self.withHistory { queries, events in
            let cases = [
                Retention.Query(period: .day, periods: 7, from: Self.start, to: Self.end),
                Retention.Query(period: .day, periods: 7, from: Self.start, to: Self.end, calendar: true),
                Retention.Query(period: .week, periods: 4, from: Self.start, to: Self.end),
                Retention.Query(
                    period: .week,
                    periods: 4,
                    from: Self.start,
                    to: Self.end,
                    startEvent: "conversion",
                    returnEvent: "feature_used",
                    calendar: true
                ),
            ]
            for query in cases {
                let expected = Retention.table(
                    events,
                    period: query.period,
                    periods: query.periods,
                    from: query.from,
                    to: query.to,
                    startEvent: query.startEvent,
                    returnEvent: query.returnEvent,
                    calendar: query.calendar
                )
                let answer = try await queries.retention(query, logger: TestSupport.logger)
                #expect(answer == expected, "\(query)")
            }
        }
    }

    @Test func rollupsCountEachDayAndForgetAnErasedPerson() async throws {
        try await Self.withHistory { queries, events in
            // A person of this test's own, so the history the other tests read stays whole.
            let erased = "erasable-" + UUID().uuidString
            let theirs = (0..<12).map { (index: Int) -> AnalyticsEvent in
                let time = Self.start.addingTimeInterval(Double(index) * 20_000)
                if index % 3 == 0 { return AnalyticsEvent(person: erased, name: "feature_used", time: time, properties: ["feature": "export"]) }
                return AnalyticsEvent(person: erased, name: "page_view", time: time, properties: ["page": "/"])
            }
            let accepted = try theirs.map { try Self.accepted($0, uuid: UUID()) }
            #expect(try await queries.store(accepted, browser: nil, country: nil, logger: TestSupport.logger) == theirs.count)
            try await queries.refreshRollups(retentionDays: 395, logger: TestSupport.logger)
            func expected(_ events: [AnalyticsEvent]) -> [AnalyticsQueries.DailyRow] {
                let detailKey = ["page_view": "page", "feature_used": "feature", "conversion": "step", "support_ticket": "category"]
                var rows: [AnalyticsQueries.DailyRow] = []
                for (day, ofDay) in Dictionary(grouping: events, by: { AnalyticsCalendar.dayStart($0.time) }) {
                    let byEvent = Dictionary(grouping: ofDay) { event in
                        [event.name, detailKey[event.name].flatMap { event.properties[$0] } ?? ""]
                    }
                    for (key, same) in byEvent {
                        rows.append(.init(day: day, event: key[0], detail: key[1], events: same.count, people: Set(same.map(\.person)).count))
                    }
                    let active = ofDay.filter { $0.name != "session_end" }
                    if !active.isEmpty {
                        rows.append(
                            .init(
                                day: day,
                                event: AnalyticsQueries.activeRow,
                                detail: "",
                                events: active.count,
                                people: Set(active.map(\.person)).count
                            )
                        )
                    }
                }
                return rows.sorted { ($0.day, $0.event, $0.detail) < ($1.day, $1.event, $1.detail) }
            }
            let last = Self.start.addingTimeInterval(60 * 86_400)
            let stored = try await queries.daily(from: Self.start, through: last, logger: TestSupport.logger)
            #expect(stored == expected(events + theirs))

            #expect(try await queries.erase(erased, requestedBy: "test", logger: TestSupport.logger) == theirs.count)
            let after = try await queries.daily(from: Self.start, through: last, logger: TestSupport.logger)
            #expect(after == expected(events), "the erased person is in no rollup")
        }
    }
}
