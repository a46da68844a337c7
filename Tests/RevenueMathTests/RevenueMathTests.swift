import Foundation
import RevenueMath
import ServiceKit
import Testing

typealias Item = SubscriptionSnapshot.Item

func subscription(
    _ customer: String,
    _ cents: Int64,
    interval: String = "month",
    count: Int = 1,
    quantity: Int = 1,
    status: String = "active",
    currency: String = "usd",
    discount: Discount? = nil,
    cancelAtPeriodEnd: Bool = false,
    daysPastDue: Int = 0
) -> SubscriptionSnapshot {
    SubscriptionSnapshot(
        id: "sub_\(customer)_\(cents)",
        customerID: customer,
        currency: currency,
        status: status,
        items: [Item(unitAmountCents: cents, quantity: quantity, interval: interval, intervalCount: count)],
        discounts: discount.map { [$0] } ?? [],
        cancelAtPeriodEnd: cancelAtPeriodEnd,
        daysPastDue: daysPastDue
    )
}

@Suite struct SubscriptionMRRTests {
    @Test(arguments: [
        ("month", 1, Decimal(12_000)), ("month", 3, Decimal(4_000)), ("year", 1, Decimal(1_000)), ("year", 2, Decimal(500)),
        ("week", 1, Decimal(52_000)), ("day", 1, Decimal(365_000)),
    ])
    func everyIntervalNormalisesToAMonth(interval: String, count: Int, expected: Decimal) {
        #expect(RevenueMath.mrr(subscription("c", 12_000, interval: interval, count: count)) == expected)
    }

    @Test func onlyActiveAndPastDueCount() {
        for status in ["active", "past_due"] { #expect(RevenueMath.mrr(subscription("c", 1_000, status: status)) == 1_000) }
        for status in ["trialing", "incomplete", "incomplete_expired", "unpaid", "canceled", "paused"] {
            #expect(RevenueMath.mrr(subscription("c", 1_000, status: status)) == 0)
        }
    }

    @Test func meteredPricesAndQuantities() {
        var mixed = subscription("c", 1_000, quantity: 3)
        mixed.items.append(Item(unitAmountCents: 50, quantity: 1_000, interval: "month", metered: true))
        #expect(RevenueMath.mrr(mixed) == 3_000)
    }

    @Test func discountsFollowTheSetting() {
        let forever = subscription("c", 10_000, discount: Discount(percentOff: 25, duration: .forever))
        let once = subscription("c", 10_000, discount: Discount(percentOff: 25, duration: .once))
        #expect(RevenueMath.mrr(forever) == 7_500)
        #expect(RevenueMath.mrr(once) == 10_000)
        #expect(RevenueMath.mrr(once, settings: MetricSettings(discounts: .allActive)) == 7_500)
        // amount_off comes off each yearly invoice: spread over its twelve months.
        let yearly = subscription("c", 120_000, interval: "year", discount: Discount(amountOffCents: 12_000, duration: .forever))
        #expect(RevenueMath.mrr(yearly) == 9_000)
        #expect(RevenueMath.mrr(subscription("c", 10_000, discount: Discount(percentOff: 100, duration: .forever))) == 0)
    }

    @Test func pastDueChurnAndCancellationSettings() {
        let late = subscription("c", 1_000, status: "past_due", daysPastDue: 20)
        #expect(RevenueMath.mrr(late) == 1_000)
        #expect(RevenueMath.mrr(late, settings: MetricSettings(pastDueChurnDays: 14)) == 0)
        let leaving = subscription("c", 1_000, cancelAtPeriodEnd: true)
        #expect(RevenueMath.mrr(leaving) == 1_000)
        #expect(RevenueMath.mrr(leaving, settings: MetricSettings(cancellation: .atCancellation)) == 0)
    }

    /// 100 subscriptions at $100/month and 50 at $600/year → MRR $12,500.
    @Test func theMetricsExample() {
        let subscriptions = (0..<100).map { subscription("m\($0)", 10_000) } + (0..<50).map { subscription("y\($0)", 60_000, interval: "year") }
        #expect(RevenueMath.customerMRR(subscriptions)["usd"]?.values.reduce(0, +) == 1_250_000)
    }

    @Test func currenciesAreNeverAdded() {
        let byCurrency = RevenueMath.customerMRR([subscription("a", 1_000), subscription("a", 2_000, currency: "eur")])
        #expect(byCurrency["usd"]?["a"] == 1_000)
        #expect(byCurrency["eur"]?["a"] == 2_000)
    }
}

@Suite struct MovementTests {
    @Test func eachRuleOfTheTable() throws {
        let previous: [String: Decimal] = ["expands": 100, "contracts": 100, "churns": 100, "steady": 100]
        let current: [String: Decimal] = ["expands": 150, "contracts": 60, "steady": 100, "brand-new": 70, "returns": 40]
        let movements = RevenueMath.movements(
            previous: previous,
            current: current,
            everHadMRR: ["returns", "expands", "contracts", "churns", "steady"]
        )
        #expect(movements.new == 70)
        #expect(movements.reactivation == 40)
        #expect(movements.expansion == 50)
        #expect(movements.contraction == 40)
        #expect(movements.churned == 100)
        #expect(movements.balances(start: 400, end: 420))
    }

    @Test func cancellingOneOfTwoSubscriptionsIsContractionAndTheLastIsChurn() throws {
        let days: [[String: Decimal]] = [["c": 300], ["c": 100], [:]]
        let movements = try RevenueMath.dailyMovements(days)
        #expect(movements[0].contraction == 200 && movements[0].churned == 0)
        #expect(movements[1].churned == 100)
    }

    @Test func reactivationNeedsEarlierMRRWithNoTimeLimit() throws {
        let movements = try RevenueMath.dailyMovements([[:], ["c": 50]], history: ["c"])
        #expect(movements[0].reactivation == 50 && movements[0].new == 0)
    }
}

@Suite struct AccountMetricsTests {
    /// 100 customers at window start, 11 churn, one of whom also started in the window → customer churn 10 %.
    @Test func customerChurnLeavesOutThoseWhoStartedInTheWindow() throws {
        var start: [String: Decimal] = [:]
        for index in 0..<100 { start["c\(index)"] = 1_000 }
        var middle = start
        middle["newcomer"] = 1_000
        var end = start
        for index in 0..<10 { end["c\(index)"] = nil }
        let metrics = try RevenueMath.accountMetrics(days: [start, middle, end], activeSubscriptions: (90, 100), charges: [])
        #expect(metrics.movements.churned == 11_000, "the newcomer's churn is churned MRR, not churn of the window's customers")
        #expect(metrics.customerChurnRate == Decimal(string: "0.1"))
        #expect(metrics.subscriptionGrowthRate == Decimal(string: "-0.1"))
    }

    /// Start MRR $100 with $10 churned, $10 contraction, $10 expansion → gross revenue churn 20 %, net 10 %.
    @Test func grossAndNetRevenueChurn() throws {
        let start: [String: Decimal] = ["a": 2_000, "b": 3_000, "c": 1_000, "d": 4_000]
        let end: [String: Decimal] = ["a": 3_000, "b": 2_000, "d": 4_000]
        let metrics = try RevenueMath.accountMetrics(days: [start, end], activeSubscriptions: (3, 4), charges: [])
        #expect(metrics.revenueChurnRate == Decimal(string: "0.2"))
        #expect(metrics.netRevenueChurnRate == Decimal(string: "0.1"))
        #expect(metrics.mrr == 9_000 && metrics.arr == 108_000)
        #expect(metrics.arpu == 3_000)
        #expect(metrics.ltv == Decimal(12_000))
    }

    /// $1,000 shared by three customers, one of three churned: ARPU and LTV to hundredths of a cent, churn to six places.
    @Test func ratiosAreRoundedToTheirStatedPlaces() throws {
        let start: [String: Decimal] = ["a": 50_000, "b": 30_000, "c": 20_000, "d": 10_000]
        let end: [String: Decimal] = ["a": 50_000, "b": 30_000, "c": 20_000]
        let metrics = try RevenueMath.accountMetrics(days: [start, end], activeSubscriptions: (3, 4), charges: [])
        #expect(metrics.arpu == Decimal(string: "33333.33"))
        #expect(metrics.customerChurnRate == Decimal(string: "0.25"))
        #expect(metrics.ltv == Decimal(string: "133333.33"), "from the exact ARPU, rounded once")
        #expect(metrics.revenueChurnRate == Decimal(string: "0.090909"))
    }

    @Test func revenuePaymentsAndDisputesOfTheWindow() throws {
        let now = Date()
        let charges = [
            ChargeRecord(created: now, amountCents: 10_000, refundedCents: 2_500, succeeded: true, currency: "usd"),
            ChargeRecord(created: now, amountCents: 5_000, succeeded: true, disputed: true, currency: "usd"),
            ChargeRecord(created: now, amountCents: 5_000, succeeded: false, currency: "usd"),
            ChargeRecord(created: now, amountCents: 5_000, succeeded: true, currency: "usd"),
        ]
        let metrics = try RevenueMath.accountMetrics(days: [[:], [:]], activeSubscriptions: (0, 0), charges: charges)
        #expect(metrics.totalRevenueCents == 17_500)
        #expect(metrics.paymentSuccessRate == Decimal(string: "0.75"))
        #expect(metrics.disputeRate == Decimal(string: "0.333333"), "a rate to six places")
        #expect(metrics.arpu == nil && metrics.ltv == nil && metrics.customerChurnRate == nil && metrics.subscriptionGrowthRate == nil)
    }
}

@Suite struct HistoryTests {
    @Test func aSubscriptionCountsFromItsStartUntilItsEnd() {
        let day: TimeInterval = 86_400
        let origin = Date(timeIntervalSince1970: 1_790_000_000)
        let days = (0..<5).map { origin.addingTimeInterval(Double($0) * day) }
        let early = SubscriptionHistory(current: subscription("a", 1_000, status: "canceled"), start: days[0], end: days[3])
        let late = SubscriptionHistory(current: subscription("b", 500), start: days[2], end: nil)
        let series = RevenueMath.dailyCustomerMRR([early, late], days: days).map { $0["usd"] ?? [:] }
        #expect(series.map { $0["a"] ?? 0 } == [1_000, 1_000, 1_000, 0, 0])
        #expect(series.map { $0["b"] ?? 0 } == [0, 0, 500, 500, 500])
    }
}

@Suite struct DailyMetricsTests {
    @Test func eachDayHasItsWindowAndTheMovementsBalance() throws {
        let day: TimeInterval = 86_400
        let today = Date(timeIntervalSince1970: 1_790_000_000)
        let stays = SubscriptionHistory(current: subscription("stays", 10_000), start: today.addingTimeInterval(-100 * day), end: nil)
        let leaves = SubscriptionHistory(
            current: subscription("leaves", 5_000, status: "canceled"),
            start: today.addingTimeInterval(-100 * day),
            end: today.addingTimeInterval(-10 * day)
        )
        let joins = SubscriptionHistory(current: subscription("joins", 2_000), start: today.addingTimeInterval(-5 * day), end: nil)
        let charges = [ChargeRecord(created: today.addingTimeInterval(-3 * day), amountCents: 2_000, succeeded: true, currency: "usd")]
        let daily = RevenueMath.dailyMetrics(subscriptions: [stays, leaves, joins], charges: charges, today: today, count: 3)
        #expect(daily.count == 3)
        let last = try #require(daily.last?.metrics)
        #expect(last.mrr == 12_000)
        #expect(last.movements.churned == 5_000)
        #expect(last.movements.new == 2_000)
        #expect(last.customerChurnRate == Decimal(1) / Decimal(2))
        #expect(last.totalRevenueCents == 2_000)
        #expect(last.activeSubscriptions == 2)
    }
}

@Suite struct BilledHistoryTests {
    /// Billed $100 a month, then $150 from day −20: the $50 shows as expansion on that day and only then.
    @Test func anUpgradeIsExpansionOnTheDayItsBilledPeriodBegan() throws {
        let day: TimeInterval = 86_400
        let today = Date(timeIntervalSince1970: 1_790_000_000)
        let upgraded = SubscriptionHistory(
            current: subscription("a", 15_000),
            start: today.addingTimeInterval(-50 * day),
            end: nil,
            billed: [
                BilledPeriod(from: today.addingTimeInterval(-20 * day), items: [.init(unitAmountCents: 15_000, interval: "month")]),
                BilledPeriod(from: today.addingTimeInterval(-50 * day), items: [.init(unitAmountCents: 10_000, interval: "month")]),
            ]
        )
        let daily = RevenueMath.dailyMetrics(subscriptions: [upgraded], charges: [], today: today, count: 60)
        let expansions = daily.filter { $0.movements.expansion > 0 }
        #expect(expansions.map(\.movements.expansion) == [5_000])
        #expect(expansions.first?.day == RevenueMath.calendarDays(endingWith: today.addingTimeInterval(-20 * day), count: 1)[0])
        #expect(daily.map(\.movements.new).reduce(0, +) == 10_000)
        #expect(daily.last?.metrics.mrr == 15_000)
    }
}

@Suite struct FidelityTests {
    static let day: TimeInterval = 86_400
    /// 2026-11-20 00:00:00 UTC.
    static let midnight = Date(timeIntervalSince1970: 1_795_132_800)

    static func subscription(_ customer: String, _ cents: Int64, interval: String = "month", count: Int = 1, status: String = "active")
        -> SubscriptionSnapshot
    {
        SubscriptionSnapshot(
            id: "sub_" + customer,
            customerID: "cus_" + customer,
            currency: "usd",
            status: status,
            items: [.init(unitAmountCents: cents, interval: interval, intervalCount: count)]
        )
    }

    /// $100/year is 833.33… cents a month, $250 per 3 months 8,333.33…, weekly and daily prices other repeating
    /// fractions, some discounted by a third or by $3.33 an invoice for a while: summed at one fixed scale, every day's
    /// movements add up exactly and the rebuild never stops (1,000 accounts from a fixed seed).
    @Test func nonTerminatingPricesKeepTheInvariantOnEveryDay() {
        let today = Self.midnight.addingTimeInterval(13 * 3600)
        let prices: [(Int64, String, Int)] = [(10_000, "year", 1), (25_000, "month", 3), (700, "week", 1), (100, "day", 1), (9_900, "month", 1)]
        var random = SeededRandom(seed: 1_000)
        var checkedDays = 0
        for _ in 0..<1_000 {
            var subscriptions: [SubscriptionHistory] = []
            for index in 0..<(2 + random.next(6)) {
                let (cents, interval, count) = prices[random.next(prices.count)]
                let start = today.addingTimeInterval(-Double(random.next(80)) * Self.day - Double(random.next(86_400)))
                let ends = random.next(3) == 0
                var current = Self.subscription(
                    "c\(random.next(4))-\(index)",
                    cents * Int64(1 + random.next(3)),
                    interval: interval,
                    count: count,
                    status: ends ? "canceled" : "active"
                )
                // A third of them discounted for a while: a third off, or $3.33 off each invoice.
                if random.next(3) == 0 {
                    let from = today.addingTimeInterval(-Double(random.next(70)) * Self.day - Double(random.next(86_400)))
                    current.discounts = [
                        random.next(2) == 0
                            ? Discount(
                                percentOff: Decimal(string: "33.3")!,
                                duration: .repeating,
                                start: from,
                                end: from.addingTimeInterval(20 * Self.day)
                            )
                            : Discount(amountOffCents: 333, duration: .forever, start: from)
                    ]
                }
                subscriptions.append(
                    SubscriptionHistory(
                        current: current,
                        start: start,
                        end: ends ? start.addingTimeInterval(Double(1 + random.next(40)) * Self.day) : nil
                    )
                )
            }
            let settings = MetricSettings(discounts: random.next(2) == 0 ? .allActive : .foreverOnly)
            let daily = RevenueMath.dailyMetrics(subscriptions: subscriptions, charges: [], today: today, count: 60, settings: settings)
            #expect(daily.allSatisfy { $0.balanced })
            checkedDays += daily.count
        }
        #expect(checkedDays == 60_000)
        let yearly = RevenueMath.mrr(Self.subscription("y", 10_000, interval: "year"))
        #expect(yearly == Decimal(string: "833.333333")!)
    }

    /// Set to cancel at period end ten days ago: Stripe keeps it `active` with `canceled_at` set and `ended_at` empty.
    /// Its MRR stays (no churn in the window); with churn at cancellation, it churns on the day it was asked.
    @Test func aCancellationAtPeriodEndKeepsMRRUntilThePeriodEnds() throws {
        let today = Self.midnight.addingTimeInterval(9 * 3600)
        let requested = today.addingTimeInterval(-10 * Self.day)
        let lifetime = SubscriptionHistory.lifetime(
            status: "active",
            start: today.addingTimeInterval(-90 * Self.day),
            canceledAt: requested,
            endedAt: nil,
            cancelAtPeriodEnd: true
        )
        #expect(lifetime.end == nil)
        #expect(lifetime.cancelRequestedAt == requested)
        var leaving = Self.subscription("leaving", 10_000)
        leaving.cancelAtPeriodEnd = true
        let histories = [
            SubscriptionHistory(
                current: leaving,
                start: today.addingTimeInterval(-90 * Self.day),
                end: lifetime.end,
                cancelRequestedAt: lifetime.cancelRequestedAt
            ),
            SubscriptionHistory(current: Self.subscription("staying", 10_000), start: today.addingTimeInterval(-90 * Self.day), end: nil),
        ]
        let kept = RevenueMath.dailyMetrics(subscriptions: histories, charges: [], today: today, count: 30)
        #expect(kept.map(\.movements.churned).reduce(0, +) == 0)
        #expect(kept.last?.metrics.mrr == 20_000)
        #expect(kept.last?.metrics.customerChurnRate == 0)

        let churnAtOnce = MetricSettings(cancellation: .atCancellation)
        let churned = RevenueMath.dailyMetrics(subscriptions: histories, charges: [], today: today, count: 30, settings: churnAtOnce)
        let churnDays = churned.filter { $0.movements.churned > 0 }
        #expect(churnDays.map(\.day) == RevenueMath.calendarDays(endingWith: requested, count: 1))
        #expect(churnDays.map(\.movements.churned) == [10_000])
        #expect(churned.last?.metrics.mrr == 10_000)

        // A canceled subscription without ended_at (older objects) ends at canceled_at.
        #expect(
            SubscriptionHistory.lifetime(status: "canceled", start: .distantPast, canceledAt: requested, endedAt: nil, cancelAtPeriodEnd: false).end
                == requested
        )
    }

    /// Days are UTC calendar days: the same data rebuilt five minutes after midnight and five minutes before the next
    /// gives the same days, MRR and movements.
    @Test func theSameDataGivesTheSameHistoryAtAnyTimeOfDay() {
        let startedAtNoon = Self.midnight.addingTimeInterval(-20 * Self.day + 12 * 3600)
        let histories = [
            SubscriptionHistory(current: Self.subscription("a", 10_000), start: startedAtNoon, end: nil),
            SubscriptionHistory(
                current: Self.subscription("b", 5_000, status: "canceled"),
                start: startedAtNoon.addingTimeInterval(-30 * Self.day),
                end: startedAtNoon.addingTimeInterval(5 * Self.day + 3600)
            ),
        ]
        func history(at moment: Date) -> [String] {
            RevenueMath.dailyMetrics(subscriptions: histories, charges: [], today: moment, count: 40).map {
                "\($0.day.timeIntervalSince1970) \($0.metrics.mrr) +\($0.movements.new) -\($0.movements.churned)"
            }
        }
        let early = history(at: Self.midnight.addingTimeInterval(5 * 60))
        let late = history(at: Self.midnight.addingTimeInterval(86_400 - 5 * 60))
        #expect(early == late)
        #expect(early.count == 40)
        let newDay = RevenueMath.dailyMetrics(subscriptions: histories, charges: [], today: Self.midnight, count: 40)
            .first { $0.movements.new > 0 && $0.metrics.mrr > 5_000 }?.day
        #expect(newDay == Self.midnight.addingTimeInterval(-20 * Self.day), "a start at noon counts from its own calendar day")
    }
}

extension FidelityTests {
    /// Unpaid since its last paid month ran out 40 days ago, paused after a trial, incomplete and expired ones beside
    /// a healthy subscription: none adds new or churned MRR inside the window, and the unpaid one churned on its day.
    @Test func subscriptionsThatStoppedCountingAreNotBackFilled() {
        let today = Self.midnight.addingTimeInterval(15 * 3600)
        let started = today.addingTimeInterval(-200 * Self.day)
        func history(_ name: String, status: String, paidThrough: Date? = nil) -> SubscriptionHistory {
            let lifetime = SubscriptionHistory.lifetime(
                status: status,
                start: started,
                canceledAt: nil,
                endedAt: nil,
                cancelAtPeriodEnd: false,
                paidThrough: paidThrough
            )
            return SubscriptionHistory(current: Self.subscription(name, 6_000, status: status), start: started, end: lifetime.end)
        }
        let unpaidSince = today.addingTimeInterval(-40 * Self.day)
        let histories = [
            history("healthy", status: "active"),
            history("unpaid", status: "unpaid", paidThrough: unpaidSince),
            history("paused", status: "paused"),
            history("incomplete", status: "incomplete"),
            history("expired", status: "incomplete_expired"),
        ]
        let daily = RevenueMath.dailyMetrics(subscriptions: histories, charges: [], today: today, count: 90)
        let lastThirty = daily.suffix(30)
        #expect(lastThirty.map(\.movements.new).reduce(0, +) == 0)
        #expect(lastThirty.map(\.movements.churned).reduce(0, +) == 0)
        #expect(daily.last?.metrics.mrr == 6_000)
        let churns = daily.filter { $0.movements.churned > 0 }
        #expect(churns.map(\.day) == RevenueMath.calendarDays(endingWith: unpaidSince, count: 1))
        #expect(churns.map(\.movements.churned) == [6_000])
        #expect(daily.first?.metrics.mrr == 12_000, "only the healthy and, while paid, the unpaid one ever counted")
    }

    /// An unpaid subscription whose paid invoices are not in the cache, but which a sync saw active 25 days ago: it
    /// counted until then at least, and churned no earlier.
    @Test func anUnpaidSubscriptionCountedWhileASyncSawItActive() {
        let started = Self.midnight.addingTimeInterval(-100 * Self.day)
        let seenActive = Self.midnight.addingTimeInterval(-25 * Self.day + 3_600)
        let lifetime = SubscriptionHistory.lifetime(
            status: "unpaid",
            start: started,
            canceledAt: nil,
            endedAt: nil,
            cancelAtPeriodEnd: false,
            paidThrough: Self.midnight.addingTimeInterval(-70 * Self.day),
            lastSeenCounting: seenActive
        )
        #expect(lifetime.end == seenActive, "the later of its paid time and the last time it was seen counting")
        let neverSeen = SubscriptionHistory.lifetime(status: "unpaid", start: started, canceledAt: nil, endedAt: nil, cancelAtPeriodEnd: false)
        #expect(neverSeen.end == started)
    }
}

extension FidelityTests {
    /// Events date a status change to the second: the last time it left a counting status ends it, unless it was seen
    /// counting again after; past due since the event that made it so, else since its oldest open invoice.
    @Test func eventsDateWhenASubscriptionLeftACountingStatus() {
        let started = Self.midnight.addingTimeInterval(-100 * Self.day)
        func at(_ daysAgo: Double) -> Date { Self.midnight.addingTimeInterval(-daysAgo * Self.day) }
        func end(_ status: String, _ changes: [StatusChange]) -> Date? {
            SubscriptionHistory.lifetime(
                status: status,
                start: started,
                canceledAt: nil,
                endedAt: nil,
                cancelAtPeriodEnd: false,
                paidThrough: at(60),
                changes: changes
            ).end
        }
        #expect(end("unpaid", [StatusChange(at: at(18), status: "unpaid", previous: "past_due")]) == at(18))
        #expect(end("unpaid", []) == at(60), "without events, when its last paid period ran out")
        let backAndAgain = [
            StatusChange(at: at(30), status: "paused", previous: "active"), StatusChange(at: at(20), status: "active", previous: "paused"),
            StatusChange(at: at(10), status: "paused", previous: "active"),
        ]
        #expect(end("paused", backAndAgain) == at(10))
        #expect(end("paused", []) == started, "a trial that ended without a payment method never counted")
        #expect(end("incomplete_expired", [StatusChange(at: at(5), status: "incomplete_expired", previous: "incomplete")]) == started)

        func pastDueSince(_ changes: [StatusChange], openSince: Date?) -> Date? {
            SubscriptionHistory.lifetime(
                status: "past_due",
                start: started,
                canceledAt: nil,
                endedAt: nil,
                cancelAtPeriodEnd: false,
                openSince: openSince,
                changes: changes
            ).pastDueSince
        }
        #expect(pastDueSince([StatusChange(at: at(12), status: "past_due", previous: "active")], openSince: at(40)) == at(12))
        #expect(pastDueSince([], openSince: at(40)) == at(40))
    }

    /// With `pastDueChurnDays` 7, a subscription past due for more than 7 days churns on the eighth, and not before.
    @Test func pastDueLongerThanTheSettingChurns() {
        let today = Self.midnight.addingTimeInterval(12 * 3600)
        let since = today.addingTimeInterval(-12 * Self.day)
        let history = SubscriptionHistory(
            current: Self.subscription("late", 4_000, status: "past_due"),
            start: today.addingTimeInterval(-90 * Self.day),
            end: nil,
            pastDueSince: since
        )
        let churned = RevenueMath.dailyMetrics(
            subscriptions: [history],
            charges: [],
            today: today,
            count: 30,
            settings: MetricSettings(pastDueChurnDays: 7)
        )
        .filter { $0.movements.churned > 0 }.map(\.day)
        #expect(churned == RevenueMath.calendarDays(endingWith: since.addingTimeInterval(8 * Self.day), count: 1))
        let kept = RevenueMath.dailyMetrics(subscriptions: [history], charges: [], today: today, count: 30)
        #expect(kept.last?.metrics.mrr == 4_000, "the setting is off by default")
    }
}

extension FidelityTests {
    /// A customer who paid from day −600 to −500 and came back on day −10: a reactivation, though the paid days lie
    /// long before the 395 days the rebuild computes.
    @Test func aCustomerBackAfterYearsIsAReactivation() {
        let today = Self.midnight.addingTimeInterval(8 * 3600)
        let histories = [
            SubscriptionHistory(
                current: Self.subscription("back", 5_000, status: "canceled"),
                start: today.addingTimeInterval(-600 * Self.day),
                end: today.addingTimeInterval(-500 * Self.day)
            ),
            SubscriptionHistory(current: Self.subscription("back", 7_000), start: today.addingTimeInterval(-10 * Self.day), end: nil),
        ].enumerated().map { index, history in
            var history = history
            history.current.id = "sub_back_\(index)"
            return history
        }
        let daily = RevenueMath.dailyMetrics(subscriptions: histories, charges: [], today: today, count: 365)
        #expect(daily.map(\.movements.reactivation).reduce(0, +) == 7_000)
        #expect(daily.map(\.movements.new).reduce(0, +) == 0)
    }
}

extension FidelityTests {
    /// Revenue is what was captured, less refunds; a charge still pending is neither a success nor a failure.
    @Test func revenueIsCapturedLessRefundsAndPendingChargesAreNotAttempts() throws {
        let now = Self.midnight
        let charges = [
            // $100 authorised, $60 captured, $10 refunded: $50 of revenue.
            ChargeRecord(created: now, amountCents: 6_000, refundedCents: 1_000, succeeded: true, currency: "usd"),
            ChargeRecord(created: now, amountCents: 0, succeeded: false, currency: "usd"),
            ChargeRecord(created: now, amountCents: 0, succeeded: false, pending: true, currency: "usd"),
        ]
        let metrics = try RevenueMath.accountMetrics(days: [[:], [:]], activeSubscriptions: (0, 0), charges: charges)
        #expect(metrics.totalRevenueCents == 5_000)
        #expect(metrics.paymentSuccessRate == Decimal(1) / Decimal(2))
        let onlyPending = try RevenueMath.accountMetrics(days: [[:], [:]], activeSubscriptions: (0, 0), charges: [charges[2]])
        #expect(onlyPending.paymentSuccessRate == nil)
    }
}

/// Discounts as Stripe applies them: several on one subscription, some on items or limited to products, each
/// between its own start and end.
@Suite struct DiscountTests {
    static let day: TimeInterval = 86_400
    static let midnight = FidelityTests.midnight

    /// $100 of product A and $300 of product B a month.
    static func twoProducts(discounts: [Discount], itemDiscounts: [Discount] = []) -> SubscriptionSnapshot {
        SubscriptionSnapshot(
            id: "sub_ab",
            customerID: "cus_ab",
            currency: "usd",
            status: "active",
            items: [
                .init(cycleAmountCents: 10_000, interval: "month", productID: "prod_a"),
                .init(cycleAmountCents: 30_000, interval: "month", productID: "prod_b", discounts: itemDiscounts),
            ],
            discounts: discounts
        )
    }

    @Test func stackedDiscountsApplyInOrderEachToTheItemsItCovers() {
        let tenPercent = Discount(percentOff: 10, duration: .forever)
        let twentyOffA = Discount(amountOffCents: 2_000, duration: .forever, products: ["prod_a"])
        // 10 % off both ($90 + $270), then $20 off A's $90 alone.
        #expect(RevenueMath.mrr(Self.twoProducts(discounts: [tenPercent, twentyOffA])) == Decimal(7_000 + 27_000))
        // Only the first counted before: $360.
        #expect(RevenueMath.mrr(Self.twoProducts(discounts: [tenPercent])) == 36_000)
        // Half off B's item first ($150), then 10 % off what is left of both: ($100 + $150) × 0.9.
        let halfOffB = Discount(percentOff: 50, duration: .forever)
        #expect(RevenueMath.mrr(Self.twoProducts(discounts: [tenPercent], itemDiscounts: [halfOffB])) == 22_500)
        // An amount off larger than what it covers takes that to zero, not below.
        let huge = Discount(amountOffCents: 50_000, duration: .forever, products: ["prod_a"])
        #expect(RevenueMath.mrr(Self.twoProducts(discounts: [huge])) == 30_000)
    }

    /// A forever coupon added on day −10 is a contraction that day and rewrites no earlier day; a repeating one from
    /// day −40 to −20 counts (under `all-active`) only on those days, with an expansion when it ends.
    @Test func eachDiscountCountsBetweenItsOwnStartAndEnd() throws {
        let today = Self.midnight.addingTimeInterval(12 * 3_600)
        func on(_ offset: Double) -> Date { Self.midnight.addingTimeInterval(offset * Self.day) }
        let forever = Discount(percentOff: 25, duration: .forever, start: on(-10))
        let repeating = Discount(percentOff: 50, duration: .repeating, start: on(-40), end: on(-20))
        let history = SubscriptionHistory(current: Self.twoProducts(discounts: [forever, repeating]), start: on(-60), end: nil)
        func series(_ settings: MetricSettings) -> [Date: (mrr: Decimal, movements: Movements)] {
            let rows = RevenueMath.dailyMetrics(subscriptions: [history], charges: [], today: today, count: 70, settings: settings)
            #expect(rows.allSatisfy { $0.balanced })
            return Dictionary(uniqueKeysWithValues: rows.map { ($0.day, ($0.metrics.mrr, $0.movements)) })
        }
        let stripeDefault = series(MetricSettings())
        #expect(stripeDefault[on(-11)]?.mrr == 40_000, "before the coupon existed")
        #expect(stripeDefault[on(-10)]?.movements.contraction == 10_000)
        #expect(stripeDefault[on(0)]?.mrr == 30_000)
        #expect(stripeDefault[on(-30)]?.mrr == 40_000, "a repeating coupon is not MRR by default")

        let allActive = series(MetricSettings(discounts: .allActive))
        #expect(allActive[on(-41)]?.mrr == 40_000)
        #expect(allActive[on(-40)]?.movements.contraction == 20_000)
        #expect(allActive[on(-30)]?.mrr == 20_000)
        #expect(allActive[on(-20)]?.movements.expansion == 20_000, "the repeating coupon ends")
        #expect(allActive[on(-10)]?.movements.contraction == 10_000)
    }
}
