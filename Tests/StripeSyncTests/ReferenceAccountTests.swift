import Foundation
import HTTPTypes
import HummingbirdTesting
import Sandbox
import ServiceKit
import StripeKit
import TestSupport
import Testing

@testable import StripeSync

/// The reference account: one Stripe-shaped account with prices of every interval and scheme, every status, coupons
/// of each kind, a prorated mid-period upgrade, cancellations at period end, an unpaid subscription and two
/// currencies, synced through Connect. Its 365 days of MRR and movements are worked out by hand in the tables below
/// and compared with `/api/metrics`, day by day.
extension StripeSyncIntegrationTests.SyncWorkerTests {
    /// Every change happens at noon UTC of its day, `k` days before today.
    struct Clock {
        let midnight: Int
        func noon(_ k: Int) -> Int { midnight + k * 86_400 + 12 * 3_600 }
    }

    /// While a subscription counts: from its day to the day before `until` (nil: still today), at `mrr` a month.
    struct Row {
        var name: String
        var currency = "usd"
        var from: Int
        var until: Int?
        var mrr: Decimal
    }

    /// The hand-worked MRR, one row per stretch of a subscription's life (USD cents a month unless said).
    static let expectedMRR: [Row] = [
        // A: $100 a month since day −300.
        Row(name: "a", from: -300, mrr: 10_000),
        // B: $1,200 a year since −250: 120,000 ÷ 12.
        Row(name: "b", from: -250, mrr: 10_000),
        // C: $70 a week since −200: 7,000 × 52 ÷ 12 = 30,333.33…, held to six places.
        Row(name: "c", from: -200, mrr: Decimal(string: "30333.333333")!),
        // D: graduated tiers, 12 seats since −180: 5 × $5 + $10 flat, 5 × $4, 2 × $3 = $61.
        Row(name: "d", from: -180, mrr: 6_100),
        // E: $10 per package of 5, rounded up, 12 units since −160: 3 packages.
        Row(name: "e", from: -160, mrr: 3_000),
        // F: $100 a month from −150, upgraded to $250 mid-period on −100 (prorated on the −90 invoice).
        Row(name: "f", from: -150, until: -100, mrr: 10_000),
        Row(name: "f", from: -100, mrr: 25_000),
        // G: $50 since −90, set to cancel at period end on −20; the period ends after today, so it still counts.
        Row(name: "g", from: -90, mrr: 5_000),
        // H: $60 since −190, cancellation asked on −40, ended at period end on −30.
        Row(name: "h", from: -190, until: -30, mrr: 6_000),
        // I: $80 since −120, unpaid now: paid through −60 (the −60 invoice is still open), so it stopped counting then.
        Row(name: "i", from: -120, until: -60, mrr: 8_000),
        // J: $400 with 25 % off forever since −100; a further $20 off forever added on −50.
        Row(name: "j", from: -100, until: -50, mrr: 30_000),
        Row(name: "j", from: -50, mrr: 28_000),
        // K: $100 since −70 with 50 % off repeating (−70 to −10): not MRR under the default `forever-only`.
        Row(name: "k", from: -70, mrr: 10_000),
        // L: $30 from −300, ended −200; the same customer back at $30 on −50.
        Row(name: "l", from: -300, until: -200, mrr: 3_000),
        Row(name: "l", from: -50, mrr: 3_000),
        // P: $45 since −80, past due now (counts: the past-due churn setting is off).
        Row(name: "p", from: -80, mrr: 4_500),
        // M: €90 a month since −60.
        Row(name: "m", currency: "eur", from: -60, mrr: 9_000),
        // N (incomplete_expired since −30) and O (trialing until after today) never count: no rows.
    ]

    /// The hand-worked movements: every day not listed moved nothing.
    static let expectedMovements: [(day: Int, currency: String, kind: String, amount: Decimal)] = [
        (-300, "usd", "new_mrr", 13_000),  // A and L
        (-250, "usd", "new_mrr", 10_000),  // B
        (-200, "usd", "new_mrr", Decimal(string: "30333.333333")!),  // C
        (-200, "usd", "churned_mrr", 3_000),  // L ends
        (-190, "usd", "new_mrr", 6_000),  // H
        (-180, "usd", "new_mrr", 6_100),  // D
        (-160, "usd", "new_mrr", 3_000),  // E
        (-150, "usd", "new_mrr", 10_000),  // F
        (-120, "usd", "new_mrr", 8_000),  // I
        (-100, "usd", "new_mrr", 30_000),  // J
        (-100, "usd", "expansion_mrr", 15_000),  // F's upgrade
        (-90, "usd", "new_mrr", 5_000),  // G
        (-80, "usd", "new_mrr", 4_500),  // P
        (-70, "usd", "new_mrr", 10_000),  // K
        (-60, "usd", "churned_mrr", 8_000),  // I runs out of paid time
        (-60, "eur", "new_mrr", 9_000),  // M
        (-50, "usd", "contraction_mrr", 2_000),  // J's second coupon
        (-50, "usd", "reactivation_mrr", 3_000),  // L is back
        (-30, "usd", "churned_mrr", 6_000),  // H ends at its period end
    ]

    static func referenceAccount(_ clock: Clock) -> ConnectedAccountData {
        func price(_ id: String, _ cents: Int?, _ interval: Recurring.Interval = .month, currency: String = "usd") -> Price {
            Price(
                id: id,
                currency: currency,
                unitAmount: cents,
                unitAmountDecimal: cents.map(String.init),
                billingScheme: "per_unit",
                recurring: Recurring(interval: interval)
            )
        }
        let basic = price("price_basic", 10_000)
        let pro = price("price_pro", 25_000)
        var seats = price("price_seats", nil)
        seats.billingScheme = "tiered"
        seats.tiersMode = "graduated"
        seats.tiers = [.init(upTo: 5, unitAmount: 500, flatAmount: 1_000), .init(upTo: 10, unitAmount: 400), .init(upTo: nil, unitAmount: 300)]
        var packages = price("price_packages", 1_000)
        packages.transformQuantity = .init(divideBy: 5, round: "up")

        func subscription(
            _ name: String,
            _ price: Price,
            quantity: Int = 1,
            from: Int,
            status: Subscription.Status = .active,
            customer: String? = nil
        ) -> Subscription {
            Subscription(
                id: "sub_\(name)",
                customer: ExpandableID("cus_\(customer ?? name)"),
                status: status,
                created: clock.noon(from),
                currency: price.currency,
                items: StripeList(data: [SubscriptionItem(id: "si_\(name)", price: price, quantity: quantity)])
            )
        }
        func line(_ id: String, _ price: Price, amount: Int, from: Int, until: Int, proration: Bool = false) -> InvoiceLine {
            InvoiceLine(
                id: id,
                amount: amount,
                currency: price.currency,
                quantity: 1,
                period: Period(start: clock.noon(from), end: clock.noon(until)),
                pricing: .init(priceDetails: .init(price: ExpandableID(price.id))),
                parent: .init(subscriptionItemDetails: .init(proration: proration, subscription: "sub_f"))
            )
        }
        func invoice(_ id: String, _ subscription: String, status: Invoice.Status = .paid, created: Int, _ lines: [InvoiceLine]) -> Invoice {
            let total = lines.reduce(0) { $0 + $1.amount }
            return Invoice(
                id: id,
                customer: ExpandableID("cus_\(subscription)"),
                status: status,
                currency: "usd",
                amountDue: total,
                amountPaid: status == .paid ? total : 0,
                created: clock.noon(created),
                lines: StripeList(data: lines),
                subscription: ExpandableID("sub_\(subscription)")
            )
        }
        func coupon(_ id: String, percent: Decimal? = nil, amount: Int? = nil, _ duration: Coupon.Duration, start: Int, end: Int? = nil)
            -> Expandable<CouponDiscount>
        {
            .object(
                CouponDiscount(
                    id: "di_\(id)",
                    coupon: Coupon(id: id, duration: duration, percentOff: percent, amountOff: amount, currency: amount.map { _ in "usd" }),
                    start: clock.noon(start),
                    end: end.map(clock.noon)
                )
            )
        }

        var data = ConnectedAccountData()
        data.customers = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p"].map {
            Customer(id: "cus_\($0)", email: "\($0)@example.com", created: clock.noon(-330))
        }
        var g = subscription("g", price("price_g", 5_000), from: -90)
        g.cancelAtPeriodEnd = true
        g.canceledAt = clock.noon(-20)
        var h = subscription("h", price("price_h", 6_000), from: -190, status: .canceled)
        h.cancelAtPeriodEnd = true
        h.canceledAt = clock.noon(-40)
        h.endedAt = clock.noon(-30)
        var j = subscription("j", price("price_j", 40_000), from: -100)
        j.discounts = [coupon("quarter", percent: 25, .forever, start: -100), coupon("twenty", amount: 2_000, .forever, start: -50)]
        var k = subscription("k", price("price_k", 10_000), from: -70)
        k.discounts = [coupon("half_intro", percent: 50, .repeating, start: -70, end: -10)]
        var l1 = subscription("l1", price("price_l", 3_000), from: -300, status: .canceled, customer: "l")
        l1.canceledAt = clock.noon(-200)
        l1.endedAt = clock.noon(-200)
        var o = subscription("o", price("price_o", 20_000), from: -20, status: .trialing)
        o.trialEnd = clock.noon(5)
        data.subscriptions = [
            subscription("a", price("price_a", 10_000), from: -300),
            subscription("b", price("price_b", 120_000, .year), from: -250),
            subscription("c", price("price_c", 7_000, .week), from: -200),
            subscription("d", seats, quantity: 12, from: -180),
            subscription("e", packages, quantity: 12, from: -160),
            subscription("f", pro, from: -150),
            g, h,
            subscription("i", price("price_i", 8_000), from: -120, status: .unpaid),
            j, k, l1,
            subscription("l2", price("price_l", 3_000), from: -50, customer: "l"),
            subscription("m", price("price_m", 9_000, currency: "eur"), from: -60),
            subscription("n", price("price_n", 5_000), from: -30, status: .incompleteExpired),
            o,
            subscription("p", price("price_p", 4_500), from: -80, status: .pastDue),
        ]
        let iPrice = price("price_i", 8_000)
        data.invoices = [
            invoice("in_f1", "f", created: -150, [line("il_f1", basic, amount: 10_000, from: -150, until: -120)]),
            invoice("in_f2", "f", created: -120, [line("il_f2", basic, amount: 10_000, from: -120, until: -90)]),
            invoice(
                "in_f3",
                "f",
                created: -90,
                [
                    line("il_f3a", basic, amount: -3_333, from: -100, until: -90, proration: true),
                    line("il_f3b", pro, amount: 8_333, from: -100, until: -90, proration: true),
                    line("il_f3c", pro, amount: 25_000, from: -90, until: -60),
                ]
            ),
            invoice("in_f4", "f", created: -60, [line("il_f4", pro, amount: 25_000, from: -60, until: -30)]),
            invoice("in_f5", "f", created: -30, [line("il_f5", pro, amount: 25_000, from: -30, until: 0)]),
            invoice("in_i1", "i", created: -120, [line("il_i1", iPrice, amount: 8_000, from: -120, until: -90)]),
            invoice("in_i2", "i", created: -90, [line("il_i2", iPrice, amount: 8_000, from: -90, until: -60)]),
            invoice("in_i3", "i", status: .open, created: -60, [line("il_i3", iPrice, amount: 8_000, from: -60, until: -30)]),
        ]
        data.prices = [basic]
        return data
    }

    @Test func theReferenceAccountsYearMatchesTheHandWorkedTables() async throws {
        try await ConnectHarness.run(workers: 1) { h async throws in
            let now = Int(Date().timeIntervalSince1970)
            let clock = Clock(midnight: now - now % 86_400)
            let (user, connection, _) = try await Self.connectBuilt(Self.referenceAccount(clock), named: "reference", h)
            let response = try await h.gateway.execute(
                uri: "/api/metrics?connectionId=\(connection.id)&days=365",
                method: .get,
                headers: [.authorization: "Bearer \(user.token)"]
            )
            let metrics = try JSONDecoder().decode(JSONValue.self, from: Data(buffer: response.body))
            guard case .array(let trend)? = metrics["trend"] else { Issue.record("no trend: \(String(buffer: response.body))"); return }
            var compared = 0
            for currency in ["usd", "eur"] {
                for k in -364...0 {
                    guard let snapshot = Self.snapshot(trend, on: clock.midnight + k * 86_400, currency: currency) else {
                        Issue.record("no \(currency) snapshot for day \(k)")
                        continue
                    }
                    let mrr = Self.expectedMRR.filter { $0.currency == currency && $0.from <= k && k < ($0.until ?? 1) }.reduce(Decimal(0)) {
                        $0 + $1.mrr
                    }
                    #expect(snapshot["mrr"] == .number(mrr), "\(currency) MRR on day \(k)")
                    for kind in ["new_mrr", "expansion_mrr", "contraction_mrr", "churned_mrr", "reactivation_mrr"] {
                        let moved = Self.expectedMovements.filter { $0.day == k && $0.currency == currency && $0.kind == kind }.reduce(Decimal(0)) {
                            $0 + $1.amount
                        }
                        #expect(snapshot[kind] == .number(moved), "\(currency) \(kind) on day \(k)")
                    }
                    compared += 1
                }
            }
            #expect(compared == 730)
        }
    }
}

extension StripeSyncIntegrationTests.SyncWorkerTests {
    /// The account the sandbox's Connect page makes up (what `make run` shows) has every kind of movement, trials,
    /// coupons, failed payments and a dispute, and its history balances on every day.
    @Test func theSandboxsMadeUpAccountShowsEveryMovement() async throws {
        try await ConnectHarness.run(workers: 1) { h async throws in
            let user = try await ConnectHarness.user()
            #expect(try await h.callback(try await h.authorize(user.token)).status == .found)
            let connection = try #require(try await h.connections(user.token).first)
            try await Self.doneJobs(connection.id, count: 1)
            let response = try await h.gateway.execute(
                uri: "/api/metrics?connectionId=\(connection.id)&days=365",
                method: .get,
                headers: [.authorization: "Bearer \(user.token)"]
            )
            let metrics = try JSONDecoder().decode(JSONValue.self, from: Data(buffer: response.body))
            for kind in ["new", "expansion", "contraction", "churned", "reactivation"] {
                #expect((metrics["movements"]?[kind]).map { $0 != .number(0) } == true, "\(kind) MRR")
            }
            guard case .array(let trend)? = metrics["trend"] else { Issue.record("no trend"); return }
            func number(_ value: JSONValue?) -> Decimal? {
                if case .number(let number)? = value { return number }
                return nil
            }
            for (yesterday, today) in zip(trend, trend.dropFirst()) {
                let moved =
                    ["new_mrr", "expansion_mrr", "reactivation_mrr"].compactMap { number(today[$0]) }.reduce(0, +)
                    - ["contraction_mrr", "churned_mrr"].compactMap { number(today[$0]) }.reduce(0, +)
                #expect(number(yesterday["mrr"])! + moved == number(today["mrr"])!, "\(today["day"]?.string ?? "")")
            }
            #expect(trend.contains { (number($0["payment_success_rate"]) ?? 1) < 1 }, "failed payments")
            #expect(trend.contains { (number($0["dispute_rate"]) ?? 0) > 0 }, "a dispute")
        }
    }
}
