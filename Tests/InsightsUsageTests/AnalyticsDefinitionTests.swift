import Foundation
import Testing

@testable import InsightsUsage

/// The analytics definitions on hand-built event lists, small enough to work out on paper.
@Suite struct AnalyticsDefinitionTests {
    /// 2026-11-02, a Monday.
    static let monday = Date(timeIntervalSince1970: 1_793_577_600)

    static func at(day: Int, hour: Double = 12, minute: Double = 0) -> Date {
        monday.addingTimeInterval(Double(day) * 86_400 + hour * 3_600 + minute * 60)
    }

    static func event(_ person: String, _ name: String, day: Int, hour: Double = 12, minute: Double = 0, _ properties: [String: String] = [:])
        -> AnalyticsEvent
    {
        AnalyticsEvent(person: person, name: name, time: at(day: day, hour: hour, minute: minute), properties: properties)
    }

    @Test func activeUsersCountTheDayTheWeekAndTheMonthEndingWithIt() {
        let events = [
            Self.event("a", "page_view", day: 0), Self.event("a", "page_view", day: 0, hour: 13),
            Self.event("b", "feature_used", day: 0),
            Self.event("c", "session_end", day: 0),  // closing a tab is not activity
            Self.event("a", "page_view", day: 6),
            Self.event("d", "page_view", day: 7),
            Self.event("b", "page_view", day: 30),
        ]
        let series = ActiveUsers.series(events, from: Self.monday, through: Self.at(day: 30, hour: 0))
        #expect(series.count == 31)
        #expect(series[0].dau == 2 && series[0].wau == 2 && series[0].mau == 2)
        #expect(series[6].dau == 1 && series[6].wau == 2, "a and b in the 7 days ending on day 6")
        #expect(series[7].wau == 2, "day 0 has left the week: a (day 6) and d (day 7)")
        #expect(series[7].mau == 3)
        #expect(series[29].mau == 3)
        #expect(series[30].mau == 3, "day 0 has left the 30 days; a, d and b again")
        #expect(series[30].stickiness == ActiveUsers.ratio(1, 3))
        #expect(series[3].dau == 0 && series[3].stickiness == 0)
    }

    @Test func sessionsBreakAfterThirtyQuietMinutesOrAtTwentyFourHours() {
        var events = [
            Self.event("a", "page_view", day: 0, hour: 9), Self.event("a", "page_view", day: 0, hour: 9, minute: 10),
            Self.event("a", "page_view", day: 0, hour: 9, minute: 40),  // exactly 30 minutes: the same session
            Self.event("a", "page_view", day: 0, hour: 10, minute: 11),  // 31 minutes: a new one
            Self.event("b", "page_view", day: 0, hour: 9),  // a bounce
        ]
        // c keeps one session alive every 20 minutes for 25 hours: it is cut at 24 hours.
        events += (0...75).map { Self.event("c", "page_view", day: 1, hour: Double($0) / 3) }
        let sessions = Sessions.sessions(events)
        let a = sessions.filter { $0.person == "a" }
        #expect(a.map(\.events) == [3, 1])
        #expect(a[0].duration == 40 * 60)
        let c = sessions.filter { $0.person == "c" }
        #expect(c.count == 2)
        #expect(c[0].duration < 24 * 3_600 && c[0].events == 72)
        let summary = Sessions.summary(sessions)
        #expect(summary.count == 5)
        #expect(summary.bounceRate == ActiveUsers.ratio(2, 5), "b's session and a's second")
        // Durations 0, 0, 40 min, 1 h and 23 h 40 min: the median is the middle one.
        #expect(summary.medianSeconds == Double(40 * 60))
    }

    @Test func percentilesInterpolateAsPostgresDoes() {
        #expect(Percentile.continuous([1, 2, 3, 4], 0.5) == 2.5)
        #expect(Percentile.continuous([10, 20, 30, 40, 50], 0.9) == 46)
        #expect(Percentile.continuous([7], 0.9) == 7)
        #expect(Percentile.continuous([], 0.5) == nil)
    }

    /// PostHog's example: sign-up → onboarding → purchase, in order, within the window.
    @Test func aFunnelCountsEachPersonOnceInOrderWithinTheWindow() {
        let steps = [
            Funnel.Step(event: "page_view", properties: ["page": "/signup"]), Funnel.Step(event: "conversion"), Funnel.Step(event: "feature_used"),
        ]
        let events = [
            // a converts fully in 2 days.
            Self.event("a", "page_view", day: 0, ["page": "/signup"]), Self.event("a", "conversion", day: 1), Self.event("a", "feature_used", day: 2),
            // b does the steps out of order: only the first two count.
            Self.event("b", "feature_used", day: 0), Self.event("b", "page_view", day: 0, hour: 13, ["page": "/signup"]),
            Self.event("b", "conversion", day: 3),
            // c enters twice; only the first entry counts, and the last step is outside the 14 days.
            Self.event("c", "page_view", day: 0, ["page": "/signup"]), Self.event("c", "page_view", day: 1, ["page": "/signup"]),
            Self.event("c", "conversion", day: 2), Self.event("c", "feature_used", day: 15),
            // d's first step has the wrong property.
            Self.event("d", "page_view", day: 0, ["page": "/pricing"]), Self.event("d", "conversion", day: 1),
        ]
        let result = Funnel.compute(events, steps: steps, from: Self.monday, to: Self.at(day: 20))
        #expect(result.reached == [3, 3, 1])
        #expect(result.overall == ActiveUsers.ratio(1, 3))
        #expect(result.stepConversion == [1, ActiveUsers.ratio(1, 3)])
        #expect(result.medianSecondsToConvert == Double(2 * 86_400))
    }

    @Test func retentionCountsReturnsInEachPeriodAfterTheFirstMoment() {
        let events = [
            // a: first on day 0 at noon; back 23 h later (period 0), 25 h later (period 1), and on day 3 at 11:00 (period 2).
            Self.event("a", "page_view", day: 0), Self.event("a", "page_view", day: 1, hour: 11), Self.event("a", "page_view", day: 1, hour: 13),
            Self.event("a", "page_view", day: 3, hour: 11),
            // b: first on day 0 at 23:00, back on day 1 at 01:00: period 0 by the clock, day 1 by the calendar.
            Self.event("b", "page_view", day: 0, hour: 23), Self.event("b", "page_view", day: 1, hour: 1),
            // c: day 1's cohort, never back.
            Self.event("c", "page_view", day: 1),
        ]
        let rolling = Retention.table(events, period: .day, periods: 3, from: Self.monday, to: Self.at(day: 7))
        #expect(rolling.map(\.size) == [2, 1])
        #expect(rolling[0].retained == [2, 1, 1, 0])
        #expect(rolling[1].retained == [0, 0, 0, 0])
        let calendar = Retention.table(events, period: .day, periods: 3, from: Self.monday, to: Self.at(day: 7), calendar: true)
        #expect(calendar[0].retained == [0, 2, 0, 1], "a on days 1 and 3, b on day 1")
        let weekly = Retention.table(events, period: .week, periods: 1, from: Self.monday, to: Self.at(day: 7))
        #expect(weekly.map(\.start) == [Self.monday] && weekly[0].size == 3)
    }

    @Test func featureUsageIsUsersOverActiveUsersAndUsesPerUser() {
        let events = [
            Self.event("a", "feature_used", day: 0, ["feature": "export"]), Self.event("a", "feature_used", day: 1, ["feature": "export"]),
            Self.event("b", "feature_used", day: 0, ["feature": "export"]), Self.event("b", "feature_used", day: 0, ["feature": "insights"]),
            Self.event("c", "page_view", day: 0, ["page": "/"]), Self.event("d", "session_end", day: 0),
        ]
        let features = FeatureUsage.compute(events)
        #expect(features.map(\.feature) == ["export", "insights"])
        #expect(features[0].users == 2 && features[0].uses == 3)
        #expect(features[0].usageRate == ActiveUsers.ratio(2, 3), "a, b and c were active; d only ended a session")
        #expect(features[0].usesPerUser == ActiveUsers.ratio(3, 2))
        #expect(features[1].usageRate == ActiveUsers.ratio(1, 3))
    }

    @Test func ticketsOpenAtTheirFirstEventAndResolveAtTheFirstResolution() {
        let events = [
            Self.event("a", "support_ticket", day: 0, hour: 9, ["ticket_id": "t1", "category": "billing", "status": "open"]),
            Self.event("a", "support_ticket", day: 0, hour: 11, ["ticket_id": "t1", "status": "resolved"]),
            Self.event("a", "support_ticket", day: 0, hour: 15, ["ticket_id": "t1", "status": "closed"]),
            Self.event("b", "support_ticket", day: 1, hour: 9, ["ticket_id": "t2", "category": "bug", "status": "open"]),
            Self.event("b", "support_ticket", day: 1, hour: 13, ["ticket_id": "t2", "status": "resolved"]),
            Self.event("c", "support_ticket", day: 1, hour: 10, ["ticket_id": "t3", "category": "bug"]),
            Self.event("c", "support_ticket", day: 1, ["status": "open"]),  // no ticket id: not a ticket
        ]
        let summary = SupportTickets.compute(events)
        #expect(summary.openedByDay == [Self.at(day: 0, hour: 0): 1, Self.at(day: 1, hour: 0): 2])
        #expect(summary.byCategory == ["billing": 1, "bug": 2])
        #expect(summary.resolved == 2)
        #expect(summary.medianSecondsToResolve == Double(3 * 3_600), "2 h and 4 h")
    }

    @Test func weeksStartOnMondayInUTC() {
        #expect(AnalyticsCalendar.weekStart(Self.at(day: 6, hour: 23)) == Self.monday)
        #expect(AnalyticsCalendar.weekStart(Self.at(day: 7)) == Self.at(day: 7, hour: 0))
        #expect(AnalyticsCalendar.label(Self.monday) == "2026-11-02")
    }
}
