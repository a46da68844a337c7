import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import ServiceKit
import TestSupport
import Testing

@testable import InsightsUsage

/// insights-usage's product analytics behind the real gateway. The test that reads numbers imports its own history a
/// year back, where no other test writes (they send events as of now), and inside the 395 days raw events are kept.
struct AnalyticsHarness: Sendable {
    let gateway: any TestClientProtocol

    static func run(_ test: @Sendable (AnalyticsHarness) async throws -> Void) async throws {
        var settings = UsageSettings(billingURL: "http://127.0.0.1:\(TestSupport.refusingPort)")
        settings.analytics.activityInterval = .seconds(1)
        let usage = await InsightsUsageService.buildApplication(try TestSupport.serviceConfiguration(), settings: settings)
        try await usage.test(.live) { usage in
            try await TestSupport.withGateway(services: ["insights-usage": usage.baseURL]) { gateway in
                try await test(AnalyticsHarness(gateway: gateway))
            }
        }
    }

    static func token(_ subject: String, admin: Bool = false) async throws -> String {
        try await TestSupport.userToken(subject, email: "\(subject)@example.com", admin: admin)
    }

    func send(_ body: String, token: String?, query: String = "", headers extra: HTTPFields = [:]) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        headers.append(contentsOf: extra)
        return try await gateway.execute(uri: "/api/analytics/events" + query, method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    func get(_ uri: String, token: String) async throws -> JSONValue {
        let response = try await gateway.execute(uri: uri, method: .get, headers: [.authorization: "Bearer \(token)"])
        #expect(response.status == .ok, "\(uri): \(String(buffer: response.body))")
        return try JSONDecoder().decode(JSONValue.self, from: Data(buffer: response.body))
    }

    /// Imports `events` as an admin's backfill, in batches of 500.
    func importHistory(_ events: [AnalyticsEvent], admin: String) async throws {
        for start in stride(from: 0, to: events.count, by: 500) {
            let batch = events[start..<min(start + 500, events.count)].map { event -> JSONValue in
                [
                    "event": .string(event.name), "distinct_id": .string(event.person), "uuid": .string(UUID().uuidString),
                    "timestamp": .string(event.time.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))),
                    "properties": .object(event.properties.mapValues(JSONValue.string)),
                ]
            }
            let body = String(decoding: try JSONEncoder().encode(["batch": JSONValue.array(batch)]), as: UTF8.self)
            let response = try await send(body, token: admin, query: "?backfill=true")
            #expect(response.status == .accepted, "\(String(buffer: response.body))")
        }
    }
}

extension JSONValue {
    fileprivate var number: Decimal? {
        if case .number(let value) = self { return value }
        return nil
    }

    fileprivate var list: [JSONValue] {
        if case .array(let items) = self { return items }
        return []
    }

    fileprivate var fields: [String: JSONValue]? {
        if case .object(let fields) = self { return fields }
        return nil
    }
}

@Suite struct AnalyticsTests {
    /// A history of `people` people over `days` days from `start`: visits, feature use, a signup funnel, session ends.
    static func history(people: Int, days: Int, start: Date, seed: UInt64) -> [AnalyticsEvent] {
        var random = SeededRandom(seed: seed)
        var events: [AnalyticsEvent] = []
        for person in 0..<people {
            let id = "person-\(seed)-\(person)"
            var time = start.addingTimeInterval(Double(random.next(days * 86_400 / 2)))
            let end = start.addingTimeInterval(Double(days) * 86_400)
            while time < end {
                switch random.next(10) {
                case 0...3:
                    events.append(
                        AnalyticsEvent(person: id, name: "page_view", time: time, properties: ["page": ["/signup", "/pricing", "/"][random.next(3)]])
                    )
                case 4...5:
                    events.append(
                        AnalyticsEvent(person: id, name: "feature_used", time: time, properties: ["feature": ["export", "insights"][random.next(2)]])
                    )
                case 6: events.append(AnalyticsEvent(person: id, name: "conversion", time: time, properties: ["step": "trial"]))
                case 7: events.append(AnalyticsEvent(person: id, name: "session_end", time: time))
                case 8:
                    let ticket = "t-\(id)-\(events.count)"
                    let category = ["billing", "bug", "account"][random.next(3)]
                    events.append(
                        AnalyticsEvent(
                            person: id,
                            name: "support_ticket",
                            time: time,
                            properties: ["ticket_id": ticket, "category": category, "status": "open"]
                        )
                    )
                    if random.next(3) != 0 {
                        let resolved = time.addingTimeInterval(Double(600 + random.next(2 * 86_400)))
                        events.append(
                            AnalyticsEvent(
                                person: id,
                                name: "support_ticket",
                                time: resolved,
                                properties: ["ticket_id": ticket, "status": "resolved"]
                            )
                        )
                    }
                default: events.append(AnalyticsEvent(person: id, name: "page_view", time: time, properties: ["page": "/dashboard"]))
                }
                // Mostly minutes apart within a visit, sometimes hours or days until the next.
                time.addTimeInterval(random.next(4) == 0 ? Double(3_600 + random.next(4 * 86_400)) : Double(30 + random.next(1_500)))
            }
        }
        // Whole milliseconds, as the wire carries them.
        return events.map {
            var event = $0; event.time = Date(timeIntervalSince1970: ($0.time.timeIntervalSince1970 * 1000).rounded() / 1000); return event
        }
    }

    @Test func anImportedHistoryGivesTheDefinitionsAnswersThroughTheGateway() async throws {
        try await AnalyticsHarness.run { h in
            let start = AnalyticsCalendar.dayStart(Date().addingTimeInterval(-380 * 86_400))
            let events = Self.history(people: 40, days: 60, start: start, seed: 2011)
            let admin = try await AnalyticsHarness.token("analytics-admin", admin: true)
            try await h.importHistory(events, admin: admin)
            let through = start.addingTimeInterval(59 * 86_400)
            let range = "from=\(AnalyticsCalendar.label(start))&to=\(AnalyticsCalendar.label(through))"
            // A ticket may be resolved after the range; the range's questions read only its events.
            let inRange = events.filter { $0.time < through.addingTimeInterval(86_400) }

            let days = try await h.get("/api/analytics/active-users?\(range)", token: admin)["days"]?.list ?? []
            let expected = ActiveUsers.series(events, from: start, through: through)
            #expect(days.count == expected.count)
            for (answer, day) in zip(days, expected) {
                #expect(answer["dau"]?.number == Decimal(day.dau), "\(AnalyticsCalendar.label(day.day))")
                #expect(answer["wau"]?.number == Decimal(day.wau))
                #expect(answer["mau"]?.number == Decimal(day.mau))
            }

            let sessions = try await h.get("/api/analytics/sessions?\(range)", token: admin)
            let summary = Sessions.summary(Sessions.sessions(inRange))
            #expect(sessions["sessions"]?.number == Decimal(summary.count))
            let median = try #require(sessions["median_seconds"]?.number.map { NSDecimalNumber(decimal: $0).doubleValue })
            #expect(abs(median - (summary.medianSeconds ?? -1)) < 0.001)
            #expect(sessions["bounce_rate"]?.number == summary.bounceRate)

            let steps = [
                Funnel.Step(event: "page_view", properties: ["page": "/signup"]), Funnel.Step(event: "conversion"),
                Funnel.Step(event: "feature_used"),
            ]
            let funnel = try await h.get("/api/analytics/funnel?\(range)&step=page_view:page=/signup&step=conversion&step=feature_used", token: admin)
            let expectedFunnel = Funnel.compute(events, steps: steps, from: start, to: through.addingTimeInterval(86_400))
            #expect(funnel["reached"]?.list.compactMap(\.number) == expectedFunnel.reached.map { Decimal($0) })
            #expect(funnel["overall"]?.number == expectedFunnel.overall)

            let features = try await h.get("/api/analytics/features?\(range)", token: admin)["features"]?.list ?? []
            let expectedFeatures = FeatureUsage.compute(inRange)
            #expect(features.compactMap { $0["feature"]?.string } == expectedFeatures.map(\.feature))
            for (answer, feature) in zip(features, expectedFeatures) {
                #expect(answer["users"]?.number == Decimal(feature.users) && answer["uses"]?.number == Decimal(feature.uses))
                #expect(answer["usage_rate"]?.number == feature.usageRate && answer["uses_per_user"]?.number == feature.usesPerUser)
            }

            let tickets = try await h.get("/api/analytics/support-tickets?\(range)", token: admin)
            let expectedTickets = SupportTickets.compute(inRange)
            #expect(tickets["resolved"]?.number == Decimal(expectedTickets.resolved))
            #expect(tickets["by_category"]?.fields?.mapValues(\.number) == expectedTickets.byCategory.mapValues { Optional(Decimal($0)) })
            let ticketMedian = try #require(tickets["median_seconds_to_resolve"]?.number.map { NSDecimalNumber(decimal: $0).doubleValue })
            #expect(abs(ticketMedian - (expectedTickets.medianSecondsToResolve ?? -1)) < 0.001)

            // A property filter narrows every question to the events that carry it.
            let signups = try await h.get("/api/analytics/active-users?\(range)&filter=page=/signup", token: admin)["days"]?.list ?? []
            let expectedSignups = ActiveUsers.series(events.filter { $0.properties["page"] == "/signup" }, from: start, through: through)
            #expect(signups.compactMap { $0["dau"]?.number } == expectedSignups.map { Decimal($0.dau) })

            let retention = try await h.get("/api/analytics/retention?\(range)&period=week&periods=4", token: admin)
            let expectedRetention = Retention.table(events, period: .week, periods: 4, from: start, to: through.addingTimeInterval(86_400))
            let cohorts = retention["cohorts"]?.list ?? []
            #expect(cohorts.count == expectedRetention.count)
            for (answer, cohort) in zip(cohorts, expectedRetention) {
                #expect(answer["size"]?.number == Decimal(cohort.size))
                #expect(answer["retained"]?.list.compactMap(\.number) == cohort.retained.map { Decimal($0) })
            }
        }
    }

    @Test func aRetriedBatchIsCountedOnceAndAnonymousEventsJoinTheUserOnIdentify() async throws {
        try await AnalyticsHarness.run { h in
            let anonymous = "anon-" + UUID().uuidString
            let uuid = UUID().uuidString
            let batch = #"{"batch":[{"event":"page_view","distinct_id":"\#(anonymous)","uuid":"\#(uuid)","properties":{"page":"/pricing"}}]}"#
            let first = try await h.send(batch, token: nil)
            #expect(first.status == .accepted, "\(String(buffer: first.body))")
            let again = try JSONDecoder().decode(JSONValue.self, from: Data(buffer: try await h.send(batch, token: nil).body))
            #expect(again["accepted"]?.number == 0 && again["duplicates"]?.number == 1)

            let user = "analytics-user-" + UUID().uuidString.lowercased()
            let token = try await AnalyticsHarness.token(user)
            let identify =
                #"{"batch":[{"event":"$identify","properties":{"anon_id":"\#(anonymous)"}},{"event":"feature_used","properties":{"feature":"export"}}]}"#
            #expect(try await h.send(identify, token: token).status == .accepted)
            let export = try await h.get("/api/analytics/persons/\(user)/export", token: token)
            let names = export["events"]?.list.compactMap { $0["event"]?.string } ?? []
            #expect(names.sorted() == ["$identify", "feature_used", "page_view"], "the anonymous page view is theirs now")

            let erased = try await h.gateway.execute(
                uri: "/api/analytics/persons/\(user)",
                method: .delete,
                headers: [.authorization: "Bearer \(token)"]
            )
            #expect(erased.status == .ok)
            #expect(try JSONDecoder().decode(JSONValue.self, from: Data(buffer: erased.body))["events_removed"]?.number == 3)
            #expect(try await h.get("/api/analytics/persons/\(user)/export", token: token)["events"]?.list.isEmpty == true)
            let someoneElse = try await AnalyticsHarness.token("analytics-other-" + UUID().uuidString.lowercased())
            let forbidden = try await h.gateway.execute(
                uri: "/api/analytics/persons/\(user)/export",
                method: .get,
                headers: [.authorization: "Bearer \(someoneElse)"]
            )
            #expect(forbidden.status == .forbidden)
        }
    }

    @Test func privacyModeStoresNoIPEmailCardNumberOrRawAnonymousID() async throws {
        try await AnalyticsHarness.run { h in
            let anonymous = "visitor-" + UUID().uuidString
            let marker = UUID().uuidString
            let body = #"""
                {"batch":[{"event":"support_ticket","distinct_id":"\#(anonymous)","properties":{"marker":"\#(marker)","category":"billing","status":"open",
                "email":"jane@example.com","contact":"reach me at jane@example.com","card":"4242 4242 4242 4242","ip":"203.0.113.9",
                "nested":{"owner":"bob@example.org","plan":"pro"},"order":"1234"}}]}
                """#
            let agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
            let response = try await h.send(body, token: nil, headers: [.userAgent: agent, HTTPField.Name("X-Forwarded-For")!: "203.0.113.9"])
            #expect(response.status == .accepted, "\(String(buffer: response.body))")
            let rows = try await TestSupport.withPostgres { postgres in
                var rows: [(String, String, String?)] = []
                for try await row in try await postgres.query(
                    "SELECT person, properties::text, browser FROM usage.analytics_events WHERE properties->>'marker' = \(marker)",
                    logger: TestSupport.logger
                ).decode((String, String, String?).self) { rows.append(row) }
                return rows
            }
            #expect(rows.count == 1)
            let row = try #require(rows.first)
            #expect(!row.0.contains(anonymous) && row.0.hasPrefix("anon:"), "the visitor's own id is never stored, only its hash")
            for personal in ["jane@example.com", "4242", "203.0.113.9", "bob@example.org", "Mozilla", "131.0"] {
                #expect(!row.1.contains(personal) && !row.0.contains(personal), "\(personal) was stored")
            }
            let kept = try JSONDecoder().decode(JSONValue.self, from: Data(row.1.utf8))
            #expect(kept["nested"]?["plan"] == "pro" && kept["order"] == "1234" && kept["category"] == "billing", "what is not personal stays")
            #expect(kept["email"] == nil && kept["contact"] == nil && kept["card"] == nil && kept["ip"] == nil)
            #expect(row.2 == "Chrome")
        }
    }

    @Test func badInputIsRefusedClearlyAndStoresNothingHalfway() async throws {
        try await AnalyticsHarness.run { h in
            let marker = "bad-" + UUID().uuidString
            func stored() async throws -> Int {
                try await TestSupport.count("SELECT count(*)::int FROM usage.analytics_events WHERE properties->>'marker' = \(marker)")
            }
            let future = Date().addingTimeInterval(2 * 86_400).formatted(Date.ISO8601FormatStyle())
            let old = Date().addingTimeInterval(-40 * 86_400).formatted(Date.ISO8601FormatStyle())
            let mixed = #"""
                {"batch":[{"event":"Page View","distinct_id":"v","properties":{"marker":"\#(marker)"}},
                {"event":"page_view","distinct_id":"v","timestamp":"\#(future)","properties":{"page":"/","marker":"\#(marker)"}},
                {"event":"page_view","distinct_id":"v","timestamp":"\#(old)","properties":{"page":"/","marker":"\#(marker)"}},
                {"event":"page_view","distinct_id":"v","uuid":"not-a-uuid","properties":{"page":"/","marker":"\#(marker)"}},
                {"event":"feature_used","distinct_id":"v","properties":{"marker":"\#(marker)"}},
                {"event":"page_view","properties":{"page":"/","marker":"\#(marker)"}},
                {"event":"page_view","distinct_id":"v","properties":{"page":"/ok","marker":"\#(marker)"}}]}
                """#
            let response = try await h.send(mixed, token: nil)
            #expect(response.status == .accepted)
            let receipt = try JSONDecoder().decode(JSONValue.self, from: Data(buffer: response.body))
            let codes = receipt["errors"]?.list.compactMap { $0["code"]?.string } ?? []
            #expect(
                codes == [
                    "invalid_event_name", "timestamp_in_future", "timestamp_too_old", "invalid_uuid", "missing_property", "missing_distinct_id",
                ]
            )
            #expect(receipt["accepted"]?.number == 1)
            #expect(try await stored() == 1, "only the good one")

            let tooMany =
                "["
                + Array(repeating: #"{"event":"page_view","distinct_id":"v","properties":{"page":"/","marker":"\#(marker)"}}"#, count: 501).joined(
                    separator: ","
                ) + "]"
            for body in [
                tooMany, #"{"batch": "#, #"{"events":[]}"#, #"{"batch":[{"event":"page_view","distinct_id":"v\u0000","properties":{"page":"/"}}]}"#,
            ] {
                let refused = try await h.send(body, token: nil)
                #expect(refused.status == .badRequest || refused.status == .contentTooLarge, "\(body.prefix(40)): \(refused.status)")
            }
            #expect(try await stored() == 1)
            let admin = try await AnalyticsHarness.token("analytics-admin", admin: true)
            for query in ["from=2026-13-01", "from=2026-12-02&to=2026-12-01", "from=2020-01-01&to=2026-01-01"] {
                let bad = try await h.gateway.execute(
                    uri: "/api/analytics/active-users?\(query)",
                    method: .get,
                    headers: [.authorization: "Bearer \(admin)"]
                )
                #expect(bad.status == .badRequest, "\(query)")
            }
            let oneStep = try await h.gateway.execute(
                uri: "/api/analytics/funnel?step=page_view",
                method: .get,
                headers: [.authorization: "Bearer \(admin)"]
            )
            #expect(oneStep.status == .badRequest)
        }
    }
}

extension AnalyticsTests {
    @Test func adminsStreamsHearUserActivityWhileEventsArrive() async throws {
        try await AnalyticsHarness.run { h in
            let before = try await TestSupport.count("SELECT coalesce(max(id), 0)::int FROM stream.events")
            let body = #"{"batch":[{"event":"page_view","distinct_id":"activity-\#(UUID().uuidString)","properties":{"page":"/"}}]}"#
            #expect(try await h.send(body, token: nil).status == .accepted)
            try await TestSupport.eventually("a user_activity event") {
                try await TestSupport.count(
                    """
                    SELECT count(*)::int FROM stream.events
                    WHERE kind = 'user_activity' AND id > \(before) AND user_id IS NULL AND (payload->>'events')::int >= 1
                    """
                ) > 0
            }
        }
    }

    @Test func monthsPastTheRetentionAreDroppedWhole() async throws {
        try await TestSupport.withPostgres { postgres in
            try await InsightsUsageService.descriptor.migrate(on: postgres, logger: TestSupport.logger)
            let queries = AnalyticsQueries(postgres: postgres)
            let old = try #require(EventIntake.date("2015-03-10T12:00:00Z"))
            let recent = Date()
            try await queries.ensurePartitions(for: [old, recent], logger: TestSupport.logger)
            let dropped = try await queries.dropPartitions(olderThan: 395, logger: TestSupport.logger)
            #expect(dropped.contains("analytics_events_2015_03"))
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            let current = String(
                format: "analytics_events_%04d_%02d",
                calendar.component(.year, from: recent),
                calendar.component(.month, from: recent)
            )
            #expect(!dropped.contains(current))
        }
    }
}
