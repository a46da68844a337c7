import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Sandbox
import ServiceKit
import StripeKit
import TestSupport
import Testing

@testable import StripeSync

extension StripeSyncIntegrationTests.SyncWorkerTests {
    /// An account in which every movement happens, with a yearly plan, a trial, a forever coupon, a past-due
    /// subscription and a second currency (USD cents unless said):
    ///
    /// | customer | history                                              | movements                       | MRR now |
    /// |----------|------------------------------------------------------|---------------------------------|---------|
    /// | a        | $100/month from day −50, billed $150 from day −20     | new 10,000; expansion 5,000     | 15,000  |
    /// | b        | $200/month from day −60, billed $120 from day −30     | new 20,000; contraction 8,000   | 12,000  |
    /// | c        | $50/month from −70, canceled −40, back at $50 on −10  | new, churned, reactivation 5,000 | 5,000  |
    /// | d        | $1,200/year from −45                                 | new 10,000                      | 10,000  |
    /// | e        | $300/month, created −20, trial until −6              | new 30,000 (on −6)              | 30,000  |
    /// | f        | $400/month from −35, 25 % off forever                | new 30,000                      | 30,000  |
    /// | g        | $80/month from −55, past due now                     | new 8,000                       | 8,000   |
    /// | h        | €90/month from −25                                   | EUR: new 9,000                  | EUR 9,000 |
    ///
    /// USD: new 113,000, expansion 5,000, contraction 8,000, churned 5,000, reactivation 5,000; MRR 110,000 from 0.
    static func handBuiltAccount(now: Int) -> ConnectedAccountData {
        let day = 86_400
        func price(_ cents: Int, _ interval: Recurring.Interval = .month, currency: String = "usd") -> Price {
            Price(id: "price_\(currency)_\(cents)_\(interval)", currency: currency, unitAmount: cents, recurring: Recurring(interval: interval))
        }
        func subscription(
            _ name: String,
            customer: String? = nil,
            status: Subscription.Status = .active,
            created: Int,
            _ price: Price,
            trialEnd: Int? = nil,
            ended: Int? = nil,
            discount: Coupon? = nil
        ) -> Subscription {
            var subscription = Subscription(
                id: "sub_\(name)",
                customer: ExpandableID("cus_\(customer ?? name)"),
                status: status,
                created: now + created * day,
                canceledAt: ended.map { now + $0 * day },
                endedAt: ended.map { now + $0 * day },
                trialEnd: trialEnd.map { now + $0 * day },
                currency: price.currency,
                items: StripeList(data: [SubscriptionItem(id: "si_\(name)", price: price, quantity: 1)])
            )
            subscription.discounts = discount.map { [.object(CouponDiscount(id: "di_\(name)", coupon: $0))] }
            return subscription
        }
        func invoice(_ name: String, subscription: String, customer: String, created: Int, _ price: Price, until: Int) -> Invoice {
            Invoice(
                id: "in_\(name)",
                customer: ExpandableID("cus_\(customer)"),
                status: .paid,
                currency: price.currency,
                amountDue: price.unitAmount ?? 0,
                amountPaid: price.unitAmount ?? 0,
                created: now + created * day,
                lines: StripeList(data: [
                    InvoiceLine(
                        id: "il_\(name)",
                        amount: price.unitAmount ?? 0,
                        currency: price.currency,
                        quantity: 1,
                        period: Period(start: now + created * day, end: now + until * day),
                        price: price
                    )
                ]),
                subscription: ExpandableID("sub_\(subscription)")
            )
        }
        var data = ConnectedAccountData()
        data.customers = ["a", "b", "c", "d", "e", "f", "g", "h"].map {
            Customer(id: "cus_\($0)", email: "\($0)@example.com", created: now - 80 * day)
        }
        data.subscriptions = [
            subscription("a", created: -50, price(15_000)),
            subscription("b", created: -60, price(12_000)),
            subscription("c1", customer: "c", status: .canceled, created: -70, price(5_000), ended: -40),
            subscription("c2", customer: "c", created: -10, price(5_000)),
            subscription("d", created: -45, price(120_000, .year)),
            subscription("e", created: -20, price(30_000), trialEnd: -6),
            subscription("f", created: -35, price(40_000), discount: Coupon(id: "quarter", duration: .forever, percentOff: 25)),
            subscription("g", status: .pastDue, created: -55, price(8_000)),
            subscription("h", created: -25, price(9_000, currency: "eur")),
        ]
        data.invoices = [
            invoice("a1", subscription: "a", customer: "a", created: -50, price(10_000), until: -20),
            invoice("a2", subscription: "a", customer: "a", created: -20, price(15_000), until: 10),
            invoice("b1", subscription: "b", customer: "b", created: -60, price(20_000), until: -30),
            invoice("b2", subscription: "b", customer: "b", created: -30, price(12_000), until: 0),
        ]
        return data
    }

    @Test func theMetricsOfAHandBuiltAccountAreTheOnesWorkedOutByHand() async throws {
        try await ConnectHarness.run(workers: 1) { h async throws in
            let (user, connection, account) = try await Self.connectBuilt(
                Self.handBuiltAccount(now: Int(Date().timeIntervalSince1970)),
                named: "hand",
                h
            )

            let response = try await h.gateway.execute(
                uri: "/api/metrics?connectionId=\(connection.id)&days=90",
                method: .get,
                headers: [.authorization: "Bearer \(user.token)"]
            )
            let metrics = try JSONDecoder().decode(JSONValue.self, from: Data(buffer: response.body))
            #expect(metrics["currency"]?.string == "usd")
            #expect(metrics["latest"]?["mrr"] == .number(110_000))
            #expect(metrics["latest"]?["arr"] == .number(1_320_000))
            #expect(metrics["latest"]?["total_customers"] == .number(7))
            #expect(metrics["latest"]?["active_subscriptions"] == .number(7))
            #expect(metrics["movements"]?["new"] == .number(113_000))
            #expect(metrics["movements"]?["expansion"] == .number(5_000))
            #expect(metrics["movements"]?["contraction"] == .number(8_000))
            #expect(metrics["movements"]?["churned"] == .number(5_000))
            #expect(metrics["movements"]?["reactivation"] == .number(5_000))

            guard case .array(let trend)? = metrics["trend"] else { Issue.record("no trend"); return }
            let euro = trend.filter { $0["currency"]?.string == "eur" }
            #expect(euro.last?["mrr"] == .number(9_000))
            // Day after day, in each currency: yesterday's MRR and today's movements make today's MRR.
            for currency in ["usd", "eur"] {
                let days = trend.filter { $0["currency"]?.string == currency }
                for (yesterday, today) in zip(days, days.dropFirst()) {
                    func amount(_ key: String, _ snapshot: JSONValue) -> Decimal {
                        if case .number(let value)? = snapshot[key] { return value }
                        return 0
                    }
                    let moved =
                        amount("new_mrr", today) + amount("expansion_mrr", today) + amount("reactivation_mrr", today)
                        - amount("contraction_mrr", today) - amount("churned_mrr", today)
                    #expect(amount("mrr", yesterday) + moved == amount("mrr", today), "\(currency) \(today["day"]?.string ?? "")")
                }
            }

            // An upgrade between invoices, seen by the next sync, keeps that day once it is no longer today.
            var data = Self.handBuiltAccount(now: Int(Date().timeIntervalSince1970))
            let bigger = Price(id: "price_usd_20000_month", currency: "usd", unitAmount: 20_000, recurring: Recurring(interval: .month))
            data.subscriptions[0].items = StripeList(data: [SubscriptionItem(id: "si_a", price: bigger, quantity: 1)])
            h.sandbox.connect.setData(data, for: account)
            try h.sandbox.connect.record(event: "customer.subscription.updated", object: data.subscriptions[0], named: "subscription", for: account)
            try await Self.syncAgain(h, token: user.token, connection: connection.id)
            let twoDaysOn = Date().addingTimeInterval(2 * 86_400)
            try await TestSupport.withPostgres { client in
                try await SnapshotBuilder.rebuild(
                    connectionID: connection.id,
                    account: account,
                    postgres: client,
                    logger: TestSupport.logger,
                    today: twoDaysOn
                )
                let expansions = try await client.query(
                    """
                    SELECT day::text, expansion_mrr::text FROM sync.metrics_snapshots
                    WHERE connection_id = \(connection.id) AND currency = 'usd' AND expansion_mrr > 0 ORDER BY day DESC LIMIT 1
                    """,
                    logger: TestSupport.logger
                ).decode((String, String).self)
                var latest: (String, String)?
                for try await row in expansions { latest = row }
                let formatter = ISO8601DateFormatter()
                formatter.formatOptions = [.withFullDate]
                #expect(latest?.0 == formatter.string(from: twoDaysOn.addingTimeInterval(-2 * 86_400)))
                #expect(latest?.1 == "5000")
            }
        }
    }
}

extension StripeSyncIntegrationTests.SyncWorkerTests {
    /// The snapshot in `currency` of the UTC day holding `moment`, from `/api/metrics`' trend.
    static func snapshot(_ trend: [JSONValue], on moment: Int, currency: String = "usd") -> JSONValue? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        let day = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(moment)))
        return trend.first { $0["day"]?.string == day && $0["currency"]?.string == currency }
    }

    /// A customer upgraded from a plan nobody is on any more, which its old invoice names by id only (API
    /// 2025-08-27.basil), and a volume-tiered plan, which Stripe lists without its tiers: both are read whole from
    /// `/v1/prices/{id}`, so the old period keeps its real amount and the tiers are charged as Stripe charges them.
    @Test func pricesOnNoSubscriptionAndTieredPricesAreReadWhole() async throws {
        try await ConnectHarness.run(workers: 1) { h async throws in
            let now = Int(Date().timeIntervalSince1970)
            let day = 86_400
            let basic = Price(
                id: "price_retired_basic",
                currency: "usd",
                unitAmount: 10_000,
                billingScheme: "per_unit",
                recurring: Recurring(interval: .month)
            )
            let pro = Price(id: "price_pro", currency: "usd", unitAmount: 25_000, billingScheme: "per_unit", recurring: Recurring(interval: .month))
            let seats = Price(
                id: "price_seats",
                currency: "usd",
                billingScheme: "tiered",
                tiersMode: "volume",
                tiers: [.init(upTo: 10, unitAmount: 500), .init(upTo: nil, unitAmount: 300)],
                recurring: Recurring(interval: .month)
            )
            var data = ConnectedAccountData()
            data.customers = [
                Customer(id: "cus_a", email: "a@example.com", created: now - 80 * day),
                Customer(id: "cus_b", email: "b@example.com", created: now - 80 * day),
            ]
            data.subscriptions = [
                Subscription(
                    id: "sub_a",
                    customer: "cus_a",
                    status: .active,
                    created: now - 50 * day,
                    currency: "usd",
                    items: StripeList(data: [SubscriptionItem(id: "si_a", price: pro, quantity: 1)])
                ),
                Subscription(
                    id: "sub_b",
                    customer: "cus_b",
                    status: .active,
                    created: now - 40 * day,
                    currency: "usd",
                    items: StripeList(data: [SubscriptionItem(id: "si_b", price: seats, quantity: 12)])
                ),
            ]
            func line(_ id: String, _ price: Price, from: Int, until: Int) -> InvoiceLine {
                InvoiceLine(
                    id: id,
                    amount: price.unitAmount ?? 0,
                    currency: "usd",
                    quantity: 1,
                    period: Period(start: now + from * day, end: now + until * day),
                    pricing: .init(priceDetails: .init(price: ExpandableID(price.id)))
                )
            }
            data.invoices = [
                Invoice(
                    id: "in_a1",
                    customer: "cus_a",
                    status: .paid,
                    currency: "usd",
                    amountDue: 10_000,
                    amountPaid: 10_000,
                    created: now - 50 * day,
                    lines: StripeList(data: [line("il_a1", basic, from: -50, until: -20)]),
                    subscription: "sub_a"
                ),
                Invoice(
                    id: "in_a2",
                    customer: "cus_a",
                    status: .paid,
                    currency: "usd",
                    amountDue: 25_000,
                    amountPaid: 25_000,
                    created: now - 20 * day,
                    lines: StripeList(data: [line("il_a2", pro, from: -20, until: 10)]),
                    subscription: "sub_a"
                ),
            ]
            data.prices = [basic]
            let (user, connection, account) = try await Self.connectBuilt(data, named: "prices", h)
            let fetched = h.sandbox.faults.requests.filter { $0.header("Stripe-Account") == account && $0.path.hasPrefix("/v1/prices/") }
            #expect(Set(fetched.map(\.path)) == ["/v1/prices/price_retired_basic", "/v1/prices/price_seats"], "each read once, and only those")

            let response = try await h.gateway.execute(
                uri: "/api/metrics?connectionId=\(connection.id)&days=60",
                method: .get,
                headers: [.authorization: "Bearer \(user.token)"]
            )
            let metrics = try JSONDecoder().decode(JSONValue.self, from: Data(buffer: response.body))
            #expect(metrics["latest"]?["mrr"] == .number(25_000 + 12 * 300), "twelve seats, all at the volume tier's $3")
            guard case .array(let trend)? = metrics["trend"] else { Issue.record("no trend"); return }
            func snapshot(daysAgo: Int) -> JSONValue? { Self.snapshot(trend, on: now - daysAgo * day) }
            #expect(snapshot(daysAgo: 45)?["mrr"] == .number(10_000), "the retired plan's own price, not today's")
            #expect(snapshot(daysAgo: 20)?["expansion_mrr"] == .number(15_000))
        }
    }
}

extension StripeSyncIntegrationTests.SyncWorkerTests {
    /// Discounts as Stripe lists them (API 2025-08-27.basil): two stacked on one subscription, one of them limited to
    /// a product (`applies_to`, expanded); a customer's own discount on a subscription with none; a repeating one that
    /// Stripe stops listing once it has ended, which still applied on its days.
    @Test func discountsCountOnTheirOwnDaysWhereverStripeKeepsThem() async throws {
        try await ConnectHarness.run(workers: 1) { h async throws in
            let now = Int(Date().timeIntervalSince1970)
            let day = 86_400
            func price(_ id: String, _ cents: Int, product: String) -> Price {
                Price(
                    id: id,
                    currency: "usd",
                    unitAmount: cents,
                    billingScheme: "per_unit",
                    recurring: Recurring(interval: .month),
                    product: ExpandableID(product)
                )
            }
            func discount(_ id: String, _ coupon: Coupon, start: Int, end: Int? = nil) -> CouponDiscount {
                CouponDiscount(id: id, coupon: coupon, start: now + start * day, end: end.map { now + $0 * day })
            }
            var data = ConnectedAccountData()
            data.customers = ["a", "b", "c"].map { Customer(id: "cus_\($0)", email: "\($0)@example.com", created: now - 90 * day) }
            data.customers[1].discount = discount("di_b", Coupon(id: "half", duration: .forever, percentOff: 50), start: -30)
            var a = Subscription(
                id: "sub_a",
                customer: "cus_a",
                status: .active,
                created: now - 60 * day,
                currency: "usd",
                items: StripeList(data: [
                    SubscriptionItem(id: "si_a1", price: price("price_a", 10_000, product: "prod_a"), quantity: 1),
                    SubscriptionItem(id: "si_a2", price: price("price_b", 30_000, product: "prod_b"), quantity: 1),
                ])
            )
            a.discounts = [
                .object(discount("di_a1", Coupon(id: "tenth", duration: .forever, percentOff: 10), start: -60)),
                .object(
                    discount(
                        "di_a2",
                        Coupon(id: "twenty_off_a", duration: .forever, amountOff: 2_000, currency: "usd", appliesTo: .init(products: ["prod_a"])),
                        start: -60
                    )
                ),
            ]
            let b = Subscription(
                id: "sub_b",
                customer: "cus_b",
                status: .active,
                created: now - 60 * day,
                currency: "usd",
                items: StripeList(data: [SubscriptionItem(id: "si_b", price: price("price_c", 20_000, product: "prod_c"), quantity: 1)])
            )
            var c = Subscription(
                id: "sub_c",
                customer: "cus_c",
                status: .active,
                created: now - 60 * day,
                currency: "usd",
                items: StripeList(data: [SubscriptionItem(id: "si_c", price: price("price_d", 10_000, product: "prod_d"), quantity: 1)])
            )
            c.discounts = [
                .object(discount("di_c", Coupon(id: "intro", duration: .repeating, percentOff: 50, durationInMonths: 1), start: -20, end: -5))
            ]
            data.subscriptions = [a, b, c]
            let (user, connection, account) = try await Self.connectBuilt(data, named: "discounts", h)
            let auth: HTTPFields = [.authorization: "Bearer \(user.token)", .contentType: "application/json"]

            // Repeating coupons count under `all-active`; the rebuild keeps what the first sync saw.
            let changed = try await h.gateway.execute(
                uri: "/api/stripe/connections/\(connection.id)/settings",
                method: .patch,
                headers: auth,
                body: ByteBuffer(string: #"{"discounts": "all-active"}"#)
            )
            #expect(changed.status == .ok)
            try await Self.doneJobs(connection.id, count: 2)
            // Stripe stops listing c's coupon once it has ended.
            data.subscriptions[2].discounts = []
            h.sandbox.connect.setData(data, for: account)
            try h.sandbox.connect.record(event: "customer.subscription.updated", object: data.subscriptions[2], named: "subscription", for: account)
            try await Self.syncAgain(h, token: user.token, connection: connection.id)
            try await Self.doneJobs(connection.id, count: 3)

            let response = try await h.gateway.execute(uri: "/api/metrics?connectionId=\(connection.id)&days=60", method: .get, headers: auth)
            let metrics = try JSONDecoder().decode(JSONValue.self, from: Data(buffer: response.body))
            guard case .array(let trend)? = metrics["trend"] else { Issue.record("no trend"); return }
            func mrr(daysAgo: Int) -> JSONValue? { Self.snapshot(trend, on: now - daysAgo * day)?["mrr"] }
            // a: ($90 + $270) less $20 off A = $340; b: $200, half from day −30; c: $100, half from −20 to −5.
            #expect(mrr(daysAgo: 40) == .number(34_000 + 20_000 + 10_000))
            #expect(mrr(daysAgo: 25) == .number(34_000 + 10_000 + 10_000))
            #expect(mrr(daysAgo: 10) == .number(34_000 + 10_000 + 5_000), "the ended coupon still applied on its days")
            #expect(metrics["latest"]?["mrr"] == .number(34_000 + 10_000 + 10_000))
        }
    }
}

extension StripeSyncIntegrationTests.SyncWorkerTests {
    /// Stripe keeps 30 days of events, and they say to the second when a subscription left a counting status: u went
    /// unpaid 18 days ago though its invoices are paid only through day −60, q was paused 8 days ago after paying
    /// all along, and p fell past due 12 days ago, which churns it 8 days later once `pastDueChurnDays` is 7.
    @Test func theAccountsEventsDateWhenASubscriptionStoppedCounting() async throws {
        try await ConnectHarness.run(workers: 1) { h async throws in
            let now = Int(Date().timeIntervalSince1970)
            let day = 86_400
            func subscription(_ name: String, _ cents: Int, _ status: Subscription.Status) -> Subscription {
                let price = Price(id: "price_\(cents)", currency: "usd", unitAmount: cents, recurring: Recurring(interval: .month))
                return Subscription(
                    id: "sub_\(name)",
                    customer: ExpandableID("cus_\(name)"),
                    status: status,
                    created: now - 90 * day,
                    currency: "usd",
                    items: StripeList(data: [SubscriptionItem(id: "si_\(name)", price: price, quantity: 1)])
                )
            }
            func invoice(_ id: String, _ subscription: Subscription, status: Invoice.Status, from: Int) -> Invoice {
                let price = subscription.items.data[0].price
                return Invoice(
                    id: id,
                    customer: subscription.customer,
                    status: status,
                    currency: "usd",
                    amountDue: price.unitAmount ?? 0,
                    amountPaid: status == .paid ? price.unitAmount ?? 0 : 0,
                    created: now + from * day,
                    lines: StripeList(data: [
                        InvoiceLine(
                            id: "il_\(id)",
                            amount: price.unitAmount ?? 0,
                            currency: "usd",
                            quantity: 1,
                            period: Period(start: now + from * day, end: now + (from + 30) * day),
                            price: price
                        )
                    ]),
                    subscription: ExpandableID(subscription.id)
                )
            }
            var data = ConnectedAccountData()
            data.customers = ["a", "u", "p", "q"].map { Customer(id: "cus_\($0)", email: "\($0)@example.com", created: now - 90 * day) }
            let (a, u, p, q) = (
                subscription("a", 10_000, .active), subscription("u", 6_000, .unpaid), subscription("p", 4_000, .pastDue),
                subscription("q", 3_000, .paused)
            )
            data.subscriptions = [a, u, p, q]
            data.invoices = [
                invoice("in_u1", u, status: .paid, from: -90), invoice("in_u2", u, status: .open, from: -60),
                invoice("in_q1", q, status: .paid, from: -30),
            ]
            let account = "acct_events_" + UUID().uuidString.prefix(8)
            let events = h.sandbox.connect
            // Too old for Stripe to list any more, and so never read.
            try events.record(
                event: "customer.subscription.updated",
                object: u,
                named: "subscription",
                previous: ["status": "active"],
                at: Date(timeIntervalSince1970: TimeInterval(now - 40 * day)),
                for: account
            )
            for (subscription, daysAgo, previous) in [(u, 18, "past_due"), (p, 12, "active"), (q, 8, "active")] {
                let moment = Date(timeIntervalSince1970: TimeInterval(now - daysAgo * day))
                try events.record(
                    event: "customer.subscription.updated",
                    object: subscription,
                    named: "subscription",
                    previous: ["status": .string(previous)],
                    at: moment,
                    for: account
                )
            }
            h.sandbox.connect.addAccount(id: account, name: "events", currency: "usd")
            h.sandbox.connect.setData(data, for: account)
            let user = try await ConnectHarness.user()
            #expect(try await h.callback(try await h.authorize(user.token, account: account)).status == .found)
            let connection = try #require(try await h.connections(user.token).first).id
            try await Self.doneJobs(connection, count: 1)
            let auth: HTTPFields = [.authorization: "Bearer \(user.token)", .contentType: "application/json"]
            func mrr(daysAgo: [Int]) async throws -> [String] {
                let response = try await h.gateway.execute(uri: "/api/metrics?connectionId=\(connection)&days=90", method: .get, headers: auth)
                let metrics = try JSONDecoder().decode(JSONValue.self, from: Data(buffer: response.body))
                guard case .array(let trend)? = metrics["trend"] else { return [] }
                return daysAgo.map { daysAgo in
                    guard case .number(let mrr)? = Self.snapshot(trend, on: now - daysAgo * day)?["mrr"] else { return "\(daysAgo): none" }
                    return "\(daysAgo): \(mrr)"
                }
            }
            // a, u, p, q until u's unpaid day; then a, p, q until q's pause; then a and p.
            let before = try await mrr(daysAgo: [60, 19, 17, 9, 7, 3, 0])
            #expect(before == ["60: 23000", "19: 23000", "17: 17000", "9: 17000", "7: 14000", "3: 14000", "0: 14000"])

            let changed = try await h.gateway.execute(
                uri: "/api/stripe/connections/\(connection)/settings",
                method: .patch,
                headers: auth,
                body: ByteBuffer(string: #"{"pastDueChurnDays": 7}"#)
            )
            #expect(changed.status == .ok)
            try await Self.doneJobs(connection, count: 2)
            let after = try await mrr(daysAgo: [5, 3, 0])
            #expect(after == ["5: 14000", "3: 10000", "0: 10000"], "p churned 8 days after it fell past due")
        }
    }
}
