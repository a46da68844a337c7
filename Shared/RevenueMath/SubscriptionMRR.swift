import Foundation
import PlanKit

/// The named choices of METRICS.md where the vendors disagree. Defaults follow Stripe's billing analytics.
public struct MetricSettings: Sendable, Equatable, Codable {
    public enum DiscountPolicy: String, Sendable, Codable {
        /// Only `duration = forever` coupons reduce MRR (Stripe's default).
        case foreverOnly = "forever-only"
        /// Every discount active on the day reduces MRR.
        case allActive = "all-active"
    }

    public enum CancellationPolicy: String, Sendable, Codable {
        /// A subscription set to cancel keeps its MRR until its period ends (default).
        case atPeriodEnd = "period-end"
        /// It churns the day it is set to cancel.
        case atCancellation = "cancellation"
    }

    public var discounts: DiscountPolicy = .foreverOnly
    /// Off by default; when set, a subscription past due longer than this many days counts as churned.
    public var pastDueChurnDays: Int?
    public var cancellation: CancellationPolicy = .atPeriodEnd

    public init(discounts: DiscountPolicy = .foreverOnly, pastDueChurnDays: Int? = nil, cancellation: CancellationPolicy = .atPeriodEnd) {
        self.discounts = discounts
        self.pastDueChurnDays = pastDueChurnDays
        self.cancellation = cancellation
    }

    /// A setting left out keeps its default, so stored settings read back whatever was added since they were saved.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        discounts = try container.decodeIfPresent(DiscountPolicy.self, forKey: .discounts) ?? .foreverOnly
        pastDueChurnDays = try container.decodeIfPresent(Int.self, forKey: .pastDueChurnDays)
        cancellation = try container.decodeIfPresent(CancellationPolicy.self, forKey: .cancellation) ?? .atPeriodEnd
    }

    /// Every setting, `pastDueChurnDays` as `null` when off, so a client sees what it can change.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(discounts, forKey: .discounts)
        try container.encode(pastDueChurnDays, forKey: .pastDueChurnDays)
        try container.encode(cancellation, forKey: .cancellation)
    }

    enum CodingKeys: String, CodingKey {
        case discounts, pastDueChurnDays, cancellation
    }
}

/// A discount on a subscription or one of its items, in force from `start` until `end` (Stripe's own dates).
public struct Discount: Sendable, Equatable {
    public enum Duration: String, Sendable { case forever, once, repeating }

    public var percentOff: Decimal?
    /// Minor units, taken off each invoice (so spread over one billing cycle's months).
    public var amountOffCents: Int64?
    public var duration: Duration
    /// When it began (nil: as long as the subscription) and when it stops applying (nil: never).
    public var start: Date?
    public var end: Date?
    /// The products it is limited to (`coupon.applies_to.products`); nil for every item.
    public var products: Set<String>?

    public init(
        percentOff: Decimal? = nil,
        amountOffCents: Int64? = nil,
        duration: Duration,
        start: Date? = nil,
        end: Date? = nil,
        products: Set<String>? = nil
    ) {
        self.percentOff = percentOff
        self.amountOffCents = amountOffCents
        self.duration = duration
        self.start = start
        self.end = end
        self.products = products
    }

    /// Whether it reduces MRR at `moment` (nil: now, for the discounts a subscription lists today) under `settings`.
    func applies(at moment: Date?, settings: MetricSettings) -> Bool {
        guard settings.discounts == .allActive || duration == .forever else { return false }
        guard let moment else { return true }
        return (start ?? .distantPast) <= moment && moment < (end ?? .distantFuture)
    }
}

/// A subscription as it stood on one day, reduced to what MRR depends on.
public struct SubscriptionSnapshot: Sendable, Equatable {
    public struct Item: Sendable, Equatable {
        /// What one billing cycle charges for the item, exact in minor units (`PriceCharge` of its quantity).
        public var cycleAmountCents: Decimal
        public var quantity: Int
        public var interval: String
        public var intervalCount: Int
        /// Metered (usage) prices never count.
        public var metered: Bool
        /// The price it bills, so a proration can say which item it replaced.
        public var priceID: String?
        /// The product it sells, for discounts limited to some products.
        public var productID: String?
        /// Discounts on this item alone; they come off before the subscription's.
        public var discounts: [Discount]

        public init(
            cycleAmountCents: Decimal,
            quantity: Int = 1,
            interval: String,
            intervalCount: Int = 1,
            metered: Bool = false,
            priceID: String? = nil,
            productID: String? = nil,
            discounts: [Discount] = []
        ) {
            self.cycleAmountCents = cycleAmountCents
            self.quantity = quantity
            self.interval = interval
            self.intervalCount = intervalCount
            self.metered = metered
            self.priceID = priceID
            self.productID = productID
            self.discounts = discounts
        }

        /// A per-unit price: `unitAmountCents × quantity` each cycle.
        public init(unitAmountCents: Int64, quantity: Int = 1, interval: String, intervalCount: Int = 1, metered: Bool = false) {
            self.init(
                cycleAmountCents: PriceCharge.perUnit(Decimal(unitAmountCents)).amount(quantity: quantity),
                quantity: quantity,
                interval: interval,
                intervalCount: intervalCount,
                metered: metered
            )
        }
    }

    public var id: String
    public var customerID: String
    public var currency: String
    public var status: String
    public var items: [Item]
    /// The subscription's discounts, in the order Stripe applies them (the customer's when it has none of its own).
    public var discounts: [Discount]
    public var cancelAtPeriodEnd: Bool
    /// Days past due so far (for the past-due churn setting).
    public var daysPastDue: Int

    public init(
        id: String,
        customerID: String,
        currency: String,
        status: String,
        items: [Item],
        discounts: [Discount] = [],
        cancelAtPeriodEnd: Bool = false,
        daysPastDue: Int = 0
    ) {
        self.id = id
        self.customerID = customerID
        self.currency = currency
        self.status = status
        self.items = items
        self.discounts = discounts
        self.cancelAtPeriodEnd = cancelAtPeriodEnd
        self.daysPastDue = daysPastDue
    }
}

/// MRR as METRICS.md defines it. Exact (`Decimal` minor units); round only for display. No I/O.
public enum RevenueMath {
    /// Statuses whose subscriptions count.
    public static let countingStatuses: Set<String> = ["active", "past_due"]

    /// Every subscription's MRR is held at this many decimal places of a minor unit. $100/year is 833.33… cents a
    /// month; kept at one fixed scale, sums and differences of such values are exact in `Decimal`, so a day's movements
    /// add up to its change in MRR to the last digit however many subscriptions there are.
    public static let mrrScale = 6

    /// One subscription's MRR in its currency's minor units, with the discounts in force at `moment` (nil: the ones it
    /// lists now). Each item's own discounts come off it first; then the subscription's, one after another in order,
    /// each off what the previous ones left of the items it applies to. An amount off comes off each invoice, so per
    /// month it is spread over the billing cycle's months, and never takes an item below zero.
    public static func mrr(_ subscription: SubscriptionSnapshot, settings: MetricSettings = MetricSettings(), at moment: Date? = nil) -> Decimal {
        guard countingStatuses.contains(subscription.status) else { return 0 }
        if subscription.status == "past_due", let days = settings.pastDueChurnDays, subscription.daysPastDue > days { return 0 }
        if subscription.cancelAtPeriodEnd, settings.cancellation == .atCancellation { return 0 }
        let items = subscription.items.filter { !$0.metered }
        func undiscounted(_ item: SubscriptionSnapshot.Item) -> Decimal {
            MonthlyRecurring.amount(cycleCents: item.cycleAmountCents, interval: item.interval, intervalCount: item.intervalCount)
        }
        // Most subscriptions have no discount: their MRR is the plain sum.
        guard !subscription.discounts.isEmpty || items.contains(where: { !$0.discounts.isEmpty }) else {
            return fixedScale(items.reduce(Decimal(0)) { $0 + undiscounted($1) })
        }
        var monthly = items.map { item in
            var amount = undiscounted(item)
            for discount in item.discounts where discount.applies(at: moment, settings: settings) {
                amount = discounted(amount, by: discount, cycle: item)
            }
            return amount
        }
        for discount in subscription.discounts where discount.applies(at: moment, settings: settings) {
            let covered = items.indices.filter { discount.products?.contains(items[$0].productID ?? "") ?? true }
            let base = covered.reduce(Decimal(0)) { $0 + monthly[$1] }
            guard base > 0, let cycle = covered.first.map({ items[$0] }) else { continue }
            // What comes off the covered items, shared between them in proportion to what each is worth.
            let off = base - discounted(base, by: discount, cycle: cycle)
            for index in covered { monthly[index] -= off * monthly[index] / base }
        }
        return fixedScale(max(monthly.reduce(0, +), 0))
    }

    /// `amount` less one discount: a percentage of it, or the amount off per month of the cycle, at most `amount`.
    static func discounted(_ amount: Decimal, by discount: Discount, cycle: SubscriptionSnapshot.Item) -> Decimal {
        var result = amount
        if let percent = discount.percentOff { result -= result * percent / 100 }
        if let amountOff = discount.amountOffCents {
            result -= MonthlyRecurring.amount(unitAmountCents: amountOff, quantity: 1, interval: cycle.interval, intervalCount: cycle.intervalCount)
        }
        return max(result, 0)
    }

    /// `value` rounded (half away from zero) to `mrrScale` decimal places. Values already that short are returned as
    /// they are: rounding would lengthen their mantissa and slow every sum made of them.
    static func fixedScale(_ value: Decimal) -> Decimal {
        guard value.exponent < -mrrScale else { return value }
        return value.rounded(places: mrrScale)
    }

    /// Each customer's MRR per currency. Currencies are never added together.
    public static func customerMRR(_ subscriptions: [SubscriptionSnapshot], settings: MetricSettings = MetricSettings()) -> [String: [String:
        Decimal]]
    {
        var result: [String: [String: Decimal]] = [:]
        for subscription in subscriptions {
            let value = mrr(subscription, settings: settings)
            guard value > 0 else { continue }
            result[subscription.currency, default: [:]][subscription.customerID, default: 0] += value
        }
        return result
    }
}
