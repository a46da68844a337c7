import Contracts
import Foundation
import Logging
import PostgresNIO
import Prometheus
import RevenueMath
import ServiceKit
import StripeKit

/// Recomputes a connection's daily snapshots from its cached subscriptions, invoices and charges. Each snapshot's
/// movements are its day's (from the day before); its rates are over the 30 days that end on it.
enum SnapshotBuilder {
    static var imbalances: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "sync_movement_imbalances",
            unitName: "total",
            helpText: "Days whose MRR movements did not add up to their change in MRR (an engine bug; the day is kept)"
        )
    }

    static let historyDays = 365

    static func rebuild(
        connectionID: UUID,
        account: String,
        postgres: PostgresClient,
        logger: Logger,
        metrics: HTTPMetrics? = nil,
        today: Date = Date(),
        days: Int = historyDays
    ) async throws {
        let days = min(max(days, 1), historyDays)
        if days == historyDays {
            // Everything is recomputed from the cache as it is from here on: a refresh asked for before is done by this.
            try await postgres.query(
                "UPDATE sync.stripe_connections SET metrics_dirty_from = NULL, metrics_dirty_at = NULL WHERE id = \(connectionID)",
                logger: logger
            )
        }
        try await recordStates(account: account, at: today, postgres: postgres, logger: logger)
        let subscriptions = try await histories(account: account, postgres: postgres, logger: logger)
        var charges: [ChargeRecord] = []
        // The charges of the days computed and of the window before the first of them.
        let since = Int64(today.timeIntervalSince1970) - Int64((days + RevenueMath.windowDays + 1) * 86_400)
        for try await (created, amount, refunded, status, disputed, currency) in try await postgres.query(
            """
            SELECT created, coalesce(amount_captured, amount), amount_refunded, status, disputed, currency
            FROM sync.charges_cache WHERE account_id = \(account) AND created >= \(since)
            """,
            logger: logger
        ).decode((Int64, Int64, Int64, String, Bool, String).self) {
            charges.append(
                ChargeRecord(
                    created: Date(timeIntervalSince1970: TimeInterval(created)),
                    amountCents: amount,
                    refundedCents: refunded,
                    succeeded: status == "succeeded",
                    pending: status == "pending",
                    disputed: disputed,
                    currency: currency
                )
            )
        }
        let settings = try await SettingsQueries.settings(of: connectionID, postgres: postgres, logger: logger)
        let daily = RevenueMath.dailyMetrics(subscriptions: subscriptions, charges: charges, today: today, count: days, settings: settings)
        for row in daily where !row.balanced {
            logger.error(
                "MRR movements do not add up to the day's change: a bug in the metrics engine",
                metadata: ["connection_id": .string(connectionID.uuidString), "day": .string("\(row.day)"), "currency": .string(row.currency)]
            )
            metrics?.registry.makeCounter(descriptor: imbalances, labels: [("currency", row.currency)]).increment()
        }
        try await postgres.withTransaction(logger: logger) { connection in
            // The days recomputed replace theirs; a full rebuild also drops days that have aged out of the history.
            let first = RevenueMath.calendarDays(endingWith: today, count: days)[0]
            try await connection.query(
                """
                DELETE FROM sync.metrics_snapshots WHERE connection_id = \(connectionID)
                    AND (\(days == historyDays) OR day >= (\(first)::timestamptz AT TIME ZONE 'UTC')::date)
                """,
                logger: logger
            )
            for (day, currency, metrics, movements, _) in daily {
                let m = metrics
                try await connection.query(
                    """
                    INSERT INTO sync.metrics_snapshots (
                        connection_id, currency, day, mrr, arr, total_revenue, total_customers, active_subscriptions, arpu, ltv,
                        customer_churn_rate, revenue_churn_rate, net_revenue_churn_rate, new_mrr, expansion_mrr, contraction_mrr, churned_mrr,
                        reactivation_mrr, payment_success_rate, dispute_rate, subscription_growth_rate
                    ) VALUES (
                        \(connectionID), \(currency), (\(day)::timestamptz AT TIME ZONE 'UTC')::date, \(m.mrr.text)::numeric, \(m.arr.text)::numeric,
                        \(m.totalRevenueCents), \(m.totalCustomers), \(m.activeSubscriptions), \(m.arpu?.text)::numeric, \(m.ltv?.text)::numeric,
                        \(m.customerChurnRate?.text)::numeric, \(m.revenueChurnRate?.text)::numeric, \(m.netRevenueChurnRate?.text)::numeric,
                        \(movements.new.text)::numeric, \(movements.expansion.text)::numeric, \(movements.contraction.text)::numeric,
                        \(movements.churned.text)::numeric, \(movements.reactivation.text)::numeric, \(m.paymentSuccessRate?.text)::numeric,
                        \(m.disputeRate?.text)::numeric, \(m.subscriptionGrowthRate?.text)::numeric
                    )
                    """,
                    logger: logger
                )
            }
            try await announce(connectionID, today: daily.filter { $0.day == daily.last?.day }, on: connection, logger: logger)
        }
    }

    /// Tells the connection's owner, on the live stream, its headline metrics as they now stand (in the same
    /// transaction as the snapshots, so the event exists exactly when they do).
    static func announce(
        _ connectionID: UUID,
        today: [(day: Date, currency: String, metrics: AccountMetrics, movements: Movements, balanced: Bool)],
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        for try await (owner, currency) in try await connection.query(
            "SELECT user_id, coalesce(default_currency, 'usd') FROM sync.stripe_connections WHERE id = \(connectionID)",
            logger: logger
        ).decode((String, String).self) {
            guard let headline = today.first(where: { $0.currency == currency }) ?? today.first else { return }
            let update = MetricsUpdate(
                connectionID: connectionID.uuidString,
                currency: headline.currency,
                mrr: headline.metrics.mrr,
                arr: headline.metrics.arr,
                customers: headline.metrics.totalCustomers,
                customerChurnRate: headline.metrics.customerChurnRate
            )
            try await StreamEvents.publish("metrics_update", to: owner, payload: update, on: connection, logger: logger)
        }
    }
}

/// `metrics_update` on the live stream: a connection's headline metrics after a change, in minor units.
struct MetricsUpdate: Encodable, Sendable {
    var connectionID: String
    var currency: String
    var mrr: Decimal
    var arr: Decimal
    var customers: Int
    var customerChurnRate: Decimal?

    enum CodingKeys: String, CodingKey {
        case currency, mrr, arr, customers
        case connectionID = "connection_id"
        case customerChurnRate = "customer_churn_rate"
    }
}

/// One of a subscription's cached invoices, as its history reads it.
struct BilledInvoice {
    var status: String?
    var created: Int64
    var lines: [InvoiceLine]
}

/// What a subscription's invoices billed, read one invoice at a time (so only the items are kept, not the lines). Only
/// paid and open invoices billed anything: void and draft ones never did, and uncollectible marks delinquency, not
/// revenue. When two invoices bill the same period the later one stands, so a re-issued invoice never doubles a
/// period. A proration says the items changed mid-period: from its start, the price it credits is gone and the one
/// it charges is in, so an upgrade or downgrade is on the day it happened. No I/O.
struct InvoiceHistory {
    private var periods: [Int: (created: Int64, items: [SubscriptionSnapshot.Item])] = [:]
    /// Mid-period changes by the moment they took effect: the prices credited and the items charged.
    private var changes: [Int: (credited: [String], charged: [SubscriptionSnapshot.Item])] = [:]
    /// The end of the last period a paid invoice covered.
    private(set) var paidThrough: Int?
    /// When the last paid invoice was made, and each open one: the oldest open since the last payment is when the
    /// subscription fell behind.
    private var lastPaid: Int64?
    private var opened: [Int64] = []
    var openSince: Int64? { opened.filter { $0 > lastPaid ?? .min }.min() }

    /// The recurring items billed, by the moment they began: each period's start, and each mid-period change.
    var items: [Int: [SubscriptionSnapshot.Item]] {
        var merged = periods.mapValues(\.items)
        for (moment, change) in changes.sorted(by: { $0.key < $1.key }) where merged[moment] == nil {
            guard let before = merged.filter({ $0.key < moment }).max(by: { $0.key < $1.key })?.value else { continue }
            var items = before
            for price in change.credited {
                if let index = items.firstIndex(where: { $0.priceID == price }) { items.remove(at: index) }
            }
            merged[moment] = items + change.charged
        }
        return merged
    }

    mutating func add(_ invoice: BilledInvoice, prices: [String: Price]) {
        guard invoice.status.map(["paid", "open"].contains) ?? true else { return }
        if invoice.status == "paid" { lastPaid = max(lastPaid ?? invoice.created, invoice.created) }
        if invoice.status == "open" { opened.append(invoice.created) }
        var billed: [Int: [SubscriptionSnapshot.Item]] = [:]
        for line in invoice.lines {
            guard let period = line.period else { continue }
            if invoice.status == "paid", !line.isProration { paidThrough = max(paidThrough ?? period.end, period.end) }
            guard let price = SnapshotBuilder.resolved(line.price, id: line.priceID, prices: prices), price.recurring != nil else { continue }
            let item = SnapshotBuilder.item(price, quantity: line.quantity)
            if line.isProration {
                if line.amount < 0 {
                    changes[period.start, default: ([], [])].credited.append(price.id)
                } else {
                    changes[period.start, default: ([], [])].charged.append(item)
                }
            } else {
                billed[period.start, default: []].append(item)
            }
        }
        for (start, items) in billed where invoice.created >= periods[start]?.created ?? .min {
            periods[start] = (invoice.created, items)
        }
    }
}

/// A cached row that no longer decodes: the rebuild stops and says which, rather than reading it as nothing.
struct UnreadableCache: Error, CustomStringConvertible {
    let table: String
    let id: String
    let error: any Error
    var description: String { "\(table) row \(id) cannot be read: \(error)" }
}

extension SnapshotBuilder {
    /// Every subscription's history: counting from its start or the end of its trial, until it ended, with the
    /// items its invoices billed in each period (so an upgrade shows as expansion on the day its period began).
    static func histories(account: String, postgres: PostgresClient, logger: Logger) async throws -> [SubscriptionHistory] {
        let decoder = JSONDecoder()
        func decode<Value: Decodable>(_ type: Value.Type, _ json: String, table: String, id: String) throws -> Value {
            do { return try decoder.decode(type, from: Data(json.utf8)) } catch { throw UnreadableCache(table: table, id: id, error: error) }
        }
        var current: [(id: String, snapshot: SubscriptionSnapshot, start: Date, canceledAt: Date?, endedAt: Date?)] = []
        // Prices by id, whole (tiers included): for invoice lines that name their price without sending it, and for
        // tiered prices, which Stripe sends without their tiers inside subscriptions.
        var prices: [String: Price] = [:]
        for try await (id, json) in try await postgres.query(
            "SELECT id, price::text FROM sync.prices_cache WHERE account_id = \(account)",
            logger: logger
        ).decode((String, String).self) { prices[id] = try decode(Price.self, json, table: "prices_cache", id: id) }
        // Customers' own discounts, for their subscriptions that have none.
        var customerDiscounts: [String: CouponDiscount] = [:]
        for try await (id, json) in try await postgres.query(
            "SELECT id, discount::text FROM sync.customers_cache WHERE account_id = \(account) AND discount IS NOT NULL",
            logger: logger
        ).decode((String, String).self) { customerDiscounts[id] = try decode(CouponDiscount.self, json, table: "customers_cache", id: id) }
        // What each sync saw, in one pass: every discount (Stripe drops one from the subscription once it ends, but it
        // still applied between its start and its end); the last time each subscription counted (for an unpaid one
        // whose invoices are not all cached); its items (priced below, once every price is known).
        var seenDiscounts: [String: [CouponDiscount]] = [:]
        var lastSeenCounting: [String: Date] = [:]
        var seenItems: [(subscription: String, at: Int, items: [SubscriptionItem])] = []
        for try await (subscription, observedAt, items, json, status) in try await postgres.query(
            """
            SELECT subscription_id, observed_at, items::text, discounts::text, status FROM sync.subscription_states
            WHERE account_id = \(account) ORDER BY observed_at
            """,
            logger: logger
        ).decode((String, Int, String, String, String?).self) {
            let row = "\(subscription)@\(observedAt)"
            seenItems.append((subscription, observedAt, try decode([SubscriptionItem].self, items, table: "subscription_states", id: row)))
            // Most subscriptions never had a discount: no decoding for those.
            if json != "[]" {
                for discount in try decode([CouponDiscount].self, json, table: "subscription_states", id: row)
                where !(seenDiscounts[subscription] ?? []).contains(where: { $0.id == discount.id }) {
                    seenDiscounts[subscription, default: []].append(discount)
                }
            }
            if let status, RevenueMath.countingStatuses.contains(status) {
                lastSeenCounting[subscription] = Date(timeIntervalSince1970: TimeInterval(observedAt))
            }
        }
        for try await (id, customer, status, currency, created, trialEnd, canceledAt, endedAt, cancelAtPeriodEnd, items, discounts)
            in try await postgres.query(
                """
                SELECT id, customer_id, status, coalesce(currency, 'usd'), created, trial_end, canceled_at, ended_at, cancel_at_period_end,
                    items::text, discounts::text
                FROM sync.subscriptions_cache WHERE account_id = \(account)
                """,
                logger: logger
            ).decode((String, String, String, String, Int64, Int64?, Int64?, Int64?, Bool, String, String).self)
        {
            let decoded = try decode([SubscriptionItem].self, items, table: "subscriptions_cache", id: id)
            for item in decoded where prices[item.price.id] == nil { prices[item.price.id] = item.price }
            // Today's discounts first, in Stripe's order; then those seen before that have since ended.
            var own = discounts == "[]" ? [] : try decode([CouponDiscount].self, discounts, table: "subscriptions_cache", id: id)
            for discount in seenDiscounts[id] ?? [] where !own.contains(where: { $0.id == discount.id }) { own.append(discount) }
            let snapshot = SubscriptionSnapshot(
                id: id,
                customerID: customer,
                currency: currency,
                status: status,
                items: decoded.map { Self.item($0, prices: prices) },
                discounts: (own.isEmpty ? customerDiscounts[customer].map { [$0] } ?? [] : own).compactMap(Self.discount),
                cancelAtPeriodEnd: cancelAtPeriodEnd
            )
            let start = Date(timeIntervalSince1970: TimeInterval(max(created, trialEnd ?? created)))
            current.append(
                (
                    id, snapshot, start, canceledAt.map { Date(timeIntervalSince1970: TimeInterval($0)) },
                    endedAt.map { Date(timeIntervalSince1970: TimeInterval($0)) }
                )
            )
        }
        // Each subscription's periods: its invoices' recurring, non-proration lines grouped by period start, and the
        // items each sync saw.
        var invoices: [String: InvoiceHistory] = [:]
        for try await (invoice, subscription, status, created, lines) in try await postgres.query(
            """
            SELECT id, subscription_id, status, created, lines::text FROM sync.invoices_cache
            WHERE account_id = \(account) AND subscription_id IS NOT NULL
            """,
            logger: logger
        ).decode((String, String, String?, Int64, String).self) {
            let decoded = try decode([InvoiceLine].self, lines, table: "invoices_cache", id: invoice)
            invoices[subscription, default: InvoiceHistory()].add(BilledInvoice(status: status, created: created, lines: decoded), prices: prices)
        }
        // What the account's events showed each subscription's status to be, and when.
        var changes: [String: [StatusChange]] = [:]
        for try await (subscription, at, status, previous) in try await postgres.query(
            "SELECT subscription_id, at, status, previous_status FROM sync.subscription_status_changes WHERE account_id = \(account)",
            logger: logger
        ).decode((String, Int64, String, String?).self) {
            changes[subscription, default: []].append(
                StatusChange(at: Date(timeIntervalSince1970: TimeInterval(at)), status: status, previous: previous)
            )
        }
        var billed = invoices.mapValues(\.items)
        // What a sync saw replaces what an invoice billed from the same second.
        for seen in seenItems { billed[seen.subscription, default: [:]][seen.at] = seen.items.map { Self.item($0, prices: prices) } }
        return current.map { subscription in
            let periods = (billed[subscription.id] ?? [:]).map {
                BilledPeriod(from: Date(timeIntervalSince1970: TimeInterval($0.key)), items: $0.value)
            }
            let lifetime = SubscriptionHistory.lifetime(
                status: subscription.snapshot.status,
                start: subscription.start,
                canceledAt: subscription.canceledAt,
                endedAt: subscription.endedAt,
                cancelAtPeriodEnd: subscription.snapshot.cancelAtPeriodEnd,
                paidThrough: invoices[subscription.id]?.paidThrough.map { Date(timeIntervalSince1970: TimeInterval($0)) },
                lastSeenCounting: lastSeenCounting[subscription.id],
                openSince: invoices[subscription.id]?.openSince.map { Date(timeIntervalSince1970: TimeInterval($0)) },
                changes: changes[subscription.id] ?? []
            )
            return SubscriptionHistory(
                current: subscription.snapshot,
                start: subscription.start,
                end: lifetime.end,
                cancelRequestedAt: lifetime.cancelRequestedAt,
                pastDueSince: lifetime.pastDueSince,
                billed: periods
            )
        }
    }

    /// Saves each subscription's items, discounts and status where they differ from what the last sync saw, so that a
    /// change made between invoices keeps the day it was seen once that day is no longer today, a discount keeps the
    /// days it applied once Stripe no longer lists it, and an unpaid subscription is known to have counted while it was
    /// seen active. Of two syncs in one second, the later one's stand.
    static func recordStates(account: String, at moment: Date, postgres: PostgresClient, logger: Logger) async throws {
        try await postgres.query(
            """
            INSERT INTO sync.subscription_states (account_id, subscription_id, observed_at, items, discounts, status)
            SELECT s.account_id, s.id, \(Int(moment.timeIntervalSince1970)), s.items, s.discounts, s.status FROM sync.subscriptions_cache s
            WHERE s.account_id = \(account) AND NOT EXISTS (
                SELECT 1 FROM (
                    SELECT o.items, o.discounts, o.status FROM sync.subscription_states o
                    WHERE o.account_id = s.account_id AND o.subscription_id = s.id
                    ORDER BY o.observed_at DESC LIMIT 1
                ) latest
                WHERE latest.items = s.items AND latest.discounts = s.discounts AND latest.status IS NOT DISTINCT FROM s.status
            )
            ON CONFLICT (account_id, subscription_id, observed_at)
                DO UPDATE SET items = EXCLUDED.items, discounts = EXCLUDED.discounts, status = EXCLUDED.status
            """,
            logger: logger
        )
    }

    /// A subscription item as MRR reads it: its price whole, and its own discounts.
    static func item(_ item: SubscriptionItem, prices: [String: Price]) -> SubscriptionSnapshot.Item {
        var read = Self.item(Self.whole(item.price, prices: prices), quantity: item.quantity)
        read.discounts = (item.discounts ?? []).compactMap(\.object).compactMap(Self.discount)
        return read
    }

    static func item(_ price: Price, quantity: Int?) -> SubscriptionSnapshot.Item {
        SubscriptionSnapshot.Item(
            cycleAmountCents: charge(price).amount(quantity: quantity ?? 1),
            quantity: quantity ?? 1,
            interval: price.recurring?.interval.rawValue ?? "",
            intervalCount: price.recurring?.intervalCount ?? 1,
            metered: price.recurring?.usageType == "metered",
            priceID: price.id,
            productID: price.product?.id
        )
    }

    /// The price a line bills, whole: the one it carries, or the one it names by id, from `prices_cache`.
    static func resolved(_ carried: Price?, id: String?, prices: [String: Price]) -> Price? {
        carried.map { whole($0, prices: prices) } ?? id.flatMap { prices[$0] }
    }

    /// A price as it bills: a tiered one Stripe sent without its tiers is the one fetched whole into `prices_cache`.
    static func whole(_ price: Price, prices: [String: Price]) -> Price {
        price.lacksTiers ? prices[price.id] ?? price : price
    }

    /// How a Stripe price charges a quantity: sub-cent `unit_amount_decimal` over `unit_amount`, tiers graduated or
    /// volume, `transform_quantity` packages.
    static func charge(_ price: Price) -> PriceCharge {
        func amount(_ decimal: String?, _ whole: Int?) -> Decimal { decimal.flatMap { Decimal(string: $0) } ?? Decimal(whole ?? 0) }
        if price.billingScheme == "tiered", let tiers = price.tiers, !tiers.isEmpty {
            let bands = tiers.sorted { ($0.upTo ?? .max) < ($1.upTo ?? .max) }.map {
                PriceCharge.Band(
                    upTo: $0.upTo,
                    unitAmount: amount($0.unitAmountDecimal, $0.unitAmount),
                    flatAmount: amount($0.flatAmountDecimal, $0.flatAmount)
                )
            }
            return price.tiersMode == "volume" ? .volume(bands) : .graduated(bands)
        }
        let unit = amount(price.unitAmountDecimal, price.unitAmount)
        if let transform = price.transformQuantity {
            return .package(unitAmount: unit, divideBy: transform.divideBy, roundUp: transform.round == "up")
        }
        return .perUnit(unit)
    }

    /// A Stripe discount as MRR reads it: its coupon's terms, its own start and end, the products it is limited to.
    /// Nil when Stripe sent the coupon by id only (nothing to reduce MRR by).
    static func discount(_ discount: CouponDiscount) -> Discount? {
        guard let coupon = discount.coupon else { return nil }
        let duration: Discount.Duration =
            switch coupon.duration {
            case .forever: .forever
            case .once: .once
            default: .repeating
            }
        return Discount(
            percentOff: coupon.percentOff,
            amountOffCents: coupon.amountOff.map(Int64.init),
            duration: duration,
            start: discount.start.map { Date(timeIntervalSince1970: TimeInterval($0)) },
            end: discount.end.map { Date(timeIntervalSince1970: TimeInterval($0)) },
            products: coupon.appliesTo.map { Set($0.products) }
        )
    }
}

extension Decimal {
    /// Decimals travel to Postgres `numeric` as text, so no digit is lost.
    var text: String { NSDecimalNumber(decimal: self).stringValue }
}
