import Foundation

// Stripe's objects, reduced to the fields Revmesh reads. Every decoder ignores unknown fields, and every
// enum-like field is an open string type, so a value Stripe adds later decodes instead of failing.
// Amounts are integer minor units, timestamps Unix seconds, as on the wire.

/// A string-valued enum that accepts values it does not know.
public protocol OpenStringEnum: RawRepresentable, Codable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible
where RawValue == String {
    init(rawValue: String)
}

extension OpenStringEnum {
    public init(stringLiteral value: String) { self.init(rawValue: value) }
    public init(from decoder: any Decoder) throws { self.init(rawValue: try decoder.singleValueContainer().decode(String.self)) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
    public var description: String { rawValue }
}

/// A field Stripe sends as an id or, when expanded, as the object: only the id is kept.
public struct ExpandableID: Codable, Hashable, Sendable, ExpressibleByStringLiteral {
    public let id: String

    public init(_ id: String) { self.id = id }
    public init(stringLiteral value: String) { self.id = value }

    private struct Object: Decodable { let id: String }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let id = try? container.decode(String.self) {
            self.id = id
        } else {
            self.id = try container.decode(Object.self).id
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(id)
    }
}

/// `{"object": "list", "data": [...], "has_more": …}`.
public struct StripeList<Element: Codable & Sendable>: Codable, Sendable {
    public var data: [Element]
    public var hasMore: Bool
    public var url: String?

    public init(data: [Element], hasMore: Bool = false, url: String? = nil) {
        self.data = data
        self.hasMore = hasMore
        self.url = url
    }

    enum CodingKeys: String, CodingKey {
        case data, url
        case hasMore = "has_more"
    }
}

public struct Customer: Codable, Sendable, Identifiable {
    public var id: String
    public var email: String?
    public var name: String?
    public var created: Int
    public var currency: String?
    public var delinquent: Bool?
    public var metadata: [String: String]?
    public var deleted: Bool?
    /// A discount on every subscription of the customer's that has none of its own.
    public var discount: CouponDiscount?

    public init(
        id: String,
        email: String? = nil,
        name: String? = nil,
        created: Int,
        currency: String? = nil,
        delinquent: Bool? = nil,
        metadata: [String: String]? = nil,
        deleted: Bool? = nil,
        discount: CouponDiscount? = nil
    ) {
        self.id = id
        self.email = email
        self.name = name
        self.created = created
        self.currency = currency
        self.delinquent = delinquent
        self.metadata = metadata
        self.deleted = deleted
        self.discount = discount
    }
}

public struct Recurring: Codable, Sendable, Hashable {
    public struct Interval: OpenStringEnum {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let day: Self = "day"
        public static let week: Self = "week"
        public static let month: Self = "month"
        public static let year: Self = "year"
    }

    public var interval: Interval
    public var intervalCount: Int
    /// `licensed`, or `metered` for usage prices.
    public var usageType: String?

    public init(interval: Interval, intervalCount: Int = 1, usageType: String? = nil) {
        self.interval = interval
        self.intervalCount = intervalCount
        self.usageType = usageType
    }

    enum CodingKeys: String, CodingKey {
        case interval
        case intervalCount = "interval_count"
        case usageType = "usage_type"
    }
}

public struct Price: Codable, Sendable, Identifiable {
    /// One band of a tiered price: up to `upTo` units (nil: every unit beyond the last band).
    public struct Tier: Codable, Sendable, Equatable {
        public var upTo: Int?
        public var unitAmount: Int?
        public var unitAmountDecimal: String?
        public var flatAmount: Int?
        public var flatAmountDecimal: String?

        enum CodingKeys: String, CodingKey {
            case upTo = "up_to"
            case unitAmount = "unit_amount"
            case unitAmountDecimal = "unit_amount_decimal"
            case flatAmount = "flat_amount"
            case flatAmountDecimal = "flat_amount_decimal"
        }

        public init(upTo: Int?, unitAmount: Int? = nil, unitAmountDecimal: String? = nil, flatAmount: Int? = nil, flatAmountDecimal: String? = nil) {
            self.upTo = upTo
            self.unitAmount = unitAmount
            self.unitAmountDecimal = unitAmountDecimal
            self.flatAmount = flatAmount
            self.flatAmountDecimal = flatAmountDecimal
        }
    }

    /// Package pricing: the quantity is divided before it is charged, rounded up or down.
    public struct TransformQuantity: Codable, Sendable, Equatable {
        public var divideBy: Int
        public var round: String

        enum CodingKeys: String, CodingKey {
            case round
            case divideBy = "divide_by"
        }

        public init(divideBy: Int, round: String) {
            self.divideBy = divideBy
            self.round = round
        }
    }

    public var id: String
    public var active: Bool?
    public var currency: String
    public var unitAmount: Int?
    /// Minor units with up to 12 decimal places, as a string (sub-cent prices); set whenever `unit_amount` is.
    public var unitAmountDecimal: String?
    /// `per_unit` or `tiered`.
    public var billingScheme: String?
    /// `graduated` or `volume`, for a tiered price.
    public var tiersMode: String?
    /// Sent only when asked for (`expand[]=tiers`).
    public var tiers: [Tier]?
    public var transformQuantity: TransformQuantity?
    public var recurring: Recurring?
    public var product: ExpandableID?
    public var nickname: String?
    public var lookupKey: String?
    public var metadata: [String: String]?

    enum CodingKeys: String, CodingKey {
        case id, active, currency, recurring, product, nickname, metadata, tiers
        case unitAmount = "unit_amount"
        case unitAmountDecimal = "unit_amount_decimal"
        case billingScheme = "billing_scheme"
        case tiersMode = "tiers_mode"
        case transformQuantity = "transform_quantity"
        case lookupKey = "lookup_key"
    }

    public init(
        id: String,
        active: Bool? = nil,
        currency: String,
        unitAmount: Int? = nil,
        unitAmountDecimal: String? = nil,
        billingScheme: String? = nil,
        tiersMode: String? = nil,
        tiers: [Tier]? = nil,
        transformQuantity: TransformQuantity? = nil,
        recurring: Recurring? = nil,
        product: ExpandableID? = nil,
        nickname: String? = nil,
        lookupKey: String? = nil,
        metadata: [String: String]? = nil
    ) {
        self.id = id
        self.active = active
        self.currency = currency
        self.unitAmount = unitAmount
        self.unitAmountDecimal = unitAmountDecimal
        self.billingScheme = billingScheme
        self.tiersMode = tiersMode
        self.tiers = tiers
        self.transformQuantity = transformQuantity
        self.recurring = recurring
        self.product = product
        self.nickname = nickname
        self.lookupKey = lookupKey
        self.metadata = metadata
    }

    /// A tiered price read without its tiers (Stripe leaves them out unless expanded): it must be fetched whole.
    public var lacksTiers: Bool { billingScheme == "tiered" && (tiers ?? []).isEmpty }
}

public struct SubscriptionItem: Codable, Sendable, Identifiable {
    public var id: String
    public var price: Price
    public var quantity: Int?
    /// Where API versions from 2025-03 keep the billing period.
    public var currentPeriodStart: Int?
    public var currentPeriodEnd: Int?
    /// Discounts on this item alone: ids, or the discounts when the request expands them.
    public var discounts: [Expandable<CouponDiscount>]?

    enum CodingKeys: String, CodingKey {
        case id, price, quantity, discounts
        case currentPeriodStart = "current_period_start"
        case currentPeriodEnd = "current_period_end"
    }

    public init(
        id: String,
        price: Price,
        quantity: Int? = nil,
        currentPeriodStart: Int? = nil,
        currentPeriodEnd: Int? = nil,
        discounts: [Expandable<CouponDiscount>]? = nil
    ) {
        self.id = id
        self.price = price
        self.quantity = quantity
        self.currentPeriodStart = currentPeriodStart
        self.currentPeriodEnd = currentPeriodEnd
        self.discounts = discounts
    }
}

public struct Subscription: Codable, Sendable, Identifiable {
    public struct Status: OpenStringEnum {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let incomplete: Self = "incomplete"
        public static let incompleteExpired: Self = "incomplete_expired"
        public static let trialing: Self = "trialing"
        public static let active: Self = "active"
        public static let pastDue: Self = "past_due"
        public static let canceled: Self = "canceled"
        public static let unpaid: Self = "unpaid"
        public static let paused: Self = "paused"
    }

    public var id: String
    public var customer: ExpandableID
    public var status: Status
    public var created: Int
    public var startDate: Int?
    public var canceledAt: Int?
    public var endedAt: Int?
    public var cancelAt: Int?
    public var cancelAtPeriodEnd: Bool?
    public var trialStart: Int?
    public var trialEnd: Int?
    public var currency: String?
    public var items: StripeList<SubscriptionItem>
    public var metadata: [String: String]?
    /// Ids, or the discounts themselves when the request expands `discounts`.
    public var discounts: [Expandable<CouponDiscount>]?
    /// Older API versions keep the period on the subscription; newer ones on its items.
    public var currentPeriodStart: Int?
    public var currentPeriodEnd: Int?

    public var periodStart: Int? { currentPeriodStart ?? items.data.compactMap(\.currentPeriodStart).min() }
    public var periodEnd: Int? { currentPeriodEnd ?? items.data.compactMap(\.currentPeriodEnd).max() }

    enum CodingKeys: String, CodingKey {
        case id, customer, status, created, currency, items, metadata, discounts
        case startDate = "start_date"
        case canceledAt = "canceled_at"
        case endedAt = "ended_at"
        case cancelAt = "cancel_at"
        case cancelAtPeriodEnd = "cancel_at_period_end"
        case trialStart = "trial_start"
        case trialEnd = "trial_end"
        case currentPeriodStart = "current_period_start"
        case currentPeriodEnd = "current_period_end"
    }

    public init(
        id: String,
        customer: ExpandableID,
        status: Status,
        created: Int,
        startDate: Int? = nil,
        canceledAt: Int? = nil,
        endedAt: Int? = nil,
        cancelAt: Int? = nil,
        cancelAtPeriodEnd: Bool? = nil,
        trialStart: Int? = nil,
        trialEnd: Int? = nil,
        currency: String? = nil,
        items: StripeList<SubscriptionItem>,
        metadata: [String: String]? = nil,
        discounts: [Expandable<CouponDiscount>]? = nil,
        currentPeriodStart: Int? = nil,
        currentPeriodEnd: Int? = nil
    ) {
        self.id = id
        self.customer = customer
        self.status = status
        self.created = created
        self.startDate = startDate
        self.canceledAt = canceledAt
        self.endedAt = endedAt
        self.cancelAt = cancelAt
        self.cancelAtPeriodEnd = cancelAtPeriodEnd
        self.trialStart = trialStart
        self.trialEnd = trialEnd
        self.currency = currency
        self.items = items
        self.metadata = metadata
        self.discounts = discounts
        self.currentPeriodStart = currentPeriodStart
        self.currentPeriodEnd = currentPeriodEnd
    }
}

/// An object Stripe sends as its id unless the request expands it.
public enum Expandable<Object: Codable & Sendable>: Codable, Sendable {
    case id(String)
    case object(Object)

    public var object: Object? {
        if case .object(let object) = self { return object }
        return nil
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let id = try? container.decode(String.self) { self = .id(id) } else { self = .object(try container.decode(Object.self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .id(let id): try container.encode(id)
        case .object(let object): try container.encode(object)
        }
    }
}

/// A coupon's terms: how much comes off, and for how long.
public struct Coupon: Codable, Sendable, Identifiable {
    public struct Duration: OpenStringEnum {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let forever: Self = "forever"
        public static let once: Self = "once"
        public static let repeating: Self = "repeating"
    }

    public var id: String
    public var duration: Duration
    public var percentOff: Decimal?
    /// Minor units of `currency`, off each invoice.
    public var amountOff: Int?
    public var currency: String?
    public var durationInMonths: Int?
    /// The products it is limited to; sent only when asked for (`expand[]=…coupon.applies_to`).
    public var appliesTo: AppliesTo?

    public struct AppliesTo: Codable, Sendable, Equatable {
        public var products: [String]
        public init(products: [String]) { self.products = products }
    }

    enum CodingKeys: String, CodingKey {
        case id, duration, currency
        case percentOff = "percent_off"
        case amountOff = "amount_off"
        case durationInMonths = "duration_in_months"
        case appliesTo = "applies_to"
    }

    public init(
        id: String,
        duration: Duration,
        percentOff: Decimal? = nil,
        amountOff: Int? = nil,
        currency: String? = nil,
        durationInMonths: Int? = nil,
        appliesTo: AppliesTo? = nil
    ) {
        self.id = id
        self.duration = duration
        self.percentOff = percentOff
        self.amountOff = amountOff
        self.currency = currency
        self.durationInMonths = durationInMonths
        self.appliesTo = appliesTo
    }
}

/// A coupon applied to a customer or subscription (Stripe's `discount` object).
public struct CouponDiscount: Codable, Sendable, Identifiable {
    public var id: String
    /// Nil when only its id was sent.
    public var coupon: Coupon?
    public var start: Int?
    /// When a `repeating` coupon stops applying.
    public var end: Int?

    public init(id: String, coupon: Coupon?, start: Int? = nil, end: Int? = nil) {
        self.id = id
        self.coupon = coupon
        self.start = start
        self.end = end
    }

    enum CodingKeys: String, CodingKey { case id, coupon, start, end, source }
    private struct Source: Decodable { var coupon: Expandable<Coupon>? }

    /// The coupon is at `coupon` up to API 2025-08-27.basil and at `source.coupon` from 2025-09-30.clover; either
    /// may be an id only.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        start = try container.decodeIfPresent(Int.self, forKey: .start)
        end = try container.decodeIfPresent(Int.self, forKey: .end)
        let direct = try container.decodeIfPresent(Expandable<Coupon>.self, forKey: .coupon)
        let sourced = try container.decodeIfPresent(Source.self, forKey: .source)?.coupon
        coupon = (direct ?? sourced)?.object
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encodeIfPresent(coupon, forKey: .coupon)
        try container.encodeIfPresent(start, forKey: .start)
        try container.encodeIfPresent(end, forKey: .end)
    }
}

public struct Period: Codable, Sendable, Hashable {
    public var start: Int
    public var end: Int

    public init(
        start: Int,
        end: Int
    ) {
        self.start = start
        self.end = end
    }
}

public struct InvoiceLine: Codable, Sendable, Identifiable {
    public struct Pricing: Codable, Sendable {
        public struct PriceDetails: Codable, Sendable {
            public var price: ExpandableID?

            public init(price: ExpandableID? = nil) {
                self.price = price
            }
        }
        public var priceDetails: PriceDetails?

        enum CodingKeys: String, CodingKey { case priceDetails = "price_details" }

        public init(priceDetails: PriceDetails? = nil) {
            self.priceDetails = priceDetails
        }
    }

    /// Where newer API versions say what the line bills: a subscription item, or an invoice item (which is where
    /// some prorations come).
    public struct Parent: Codable, Sendable {
        public struct Details: Codable, Sendable {
            public var proration: Bool?
            public var subscription: String?

            public init(proration: Bool? = nil, subscription: String? = nil) {
                self.proration = proration
                self.subscription = subscription
            }
        }
        public var subscriptionItemDetails: Details?
        public var invoiceItemDetails: Details?

        enum CodingKeys: String, CodingKey {
            case subscriptionItemDetails = "subscription_item_details"
            case invoiceItemDetails = "invoice_item_details"
        }

        public init(subscriptionItemDetails: Details? = nil, invoiceItemDetails: Details? = nil) {
            self.subscriptionItemDetails = subscriptionItemDetails
            self.invoiceItemDetails = invoiceItemDetails
        }
    }

    public var id: String
    public var amount: Int
    public var currency: String
    public var description: String?
    public var quantity: Int?
    public var period: Period?
    /// Older API versions send the price object; newer ones its id under `pricing`.
    public var price: Price?
    public var pricing: Pricing?
    /// Older API versions flag prorations on the line; newer ones under `parent`.
    public var proration: Bool?
    public var parent: Parent?

    public var priceID: String? { price?.id ?? pricing?.priceDetails?.price?.id }
    public var isProration: Bool {
        proration ?? parent?.subscriptionItemDetails?.proration ?? parent?.invoiceItemDetails?.proration ?? false
    }

    public init(
        id: String,
        amount: Int,
        currency: String,
        description: String? = nil,
        quantity: Int? = nil,
        period: Period? = nil,
        price: Price? = nil,
        pricing: Pricing? = nil,
        proration: Bool? = nil,
        parent: Parent? = nil
    ) {
        self.id = id
        self.amount = amount
        self.currency = currency
        self.description = description
        self.quantity = quantity
        self.period = period
        self.price = price
        self.pricing = pricing
        self.proration = proration
        self.parent = parent
    }
}

public struct Invoice: Codable, Sendable, Identifiable {
    public struct Status: OpenStringEnum {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let draft: Self = "draft"
        public static let open: Self = "open"
        public static let paid: Self = "paid"
        public static let uncollectible: Self = "uncollectible"
        public static let void: Self = "void"
    }

    public struct Parent: Codable, Sendable {
        public struct SubscriptionDetails: Codable, Sendable {
            public var subscription: ExpandableID?

            public init(
                subscription: ExpandableID? = nil
            ) {
                self.subscription = subscription
            }
        }
        public var subscriptionDetails: SubscriptionDetails?

        enum CodingKeys: String, CodingKey { case subscriptionDetails = "subscription_details" }

        public init(
            subscriptionDetails: SubscriptionDetails? = nil
        ) {
            self.subscriptionDetails = subscriptionDetails
        }
    }

    public struct StatusTransitions: Codable, Sendable {
        public var paidAt: Int?
        enum CodingKeys: String, CodingKey { case paidAt = "paid_at" }

        public init(
            paidAt: Int? = nil
        ) {
            self.paidAt = paidAt
        }
    }

    public var id: String
    public var customer: ExpandableID?
    public var customerEmail: String?
    public var status: Status?
    public var currency: String
    public var amountDue: Int
    public var amountPaid: Int
    public var subtotal: Int?
    public var total: Int?
    public var created: Int
    public var periodStart: Int?
    public var periodEnd: Int?
    public var billingReason: String?
    public var lines: StripeList<InvoiceLine>
    public var parent: Parent?
    /// Older API versions link the subscription directly.
    public var subscription: ExpandableID?
    public var statusTransitions: StatusTransitions?

    public var subscriptionID: String? { subscription?.id ?? parent?.subscriptionDetails?.subscription?.id }

    enum CodingKeys: String, CodingKey {
        case id, customer, status, currency, subtotal, total, created, lines, parent, subscription
        case customerEmail = "customer_email"
        case amountDue = "amount_due"
        case amountPaid = "amount_paid"
        case periodStart = "period_start"
        case periodEnd = "period_end"
        case billingReason = "billing_reason"
        case statusTransitions = "status_transitions"
    }

    public init(
        id: String,
        customer: ExpandableID? = nil,
        customerEmail: String? = nil,
        status: Status? = nil,
        currency: String,
        amountDue: Int,
        amountPaid: Int,
        subtotal: Int? = nil,
        total: Int? = nil,
        created: Int,
        periodStart: Int? = nil,
        periodEnd: Int? = nil,
        billingReason: String? = nil,
        lines: StripeList<InvoiceLine>,
        parent: Parent? = nil,
        subscription: ExpandableID? = nil,
        statusTransitions: StatusTransitions? = nil
    ) {
        self.id = id
        self.customer = customer
        self.customerEmail = customerEmail
        self.status = status
        self.currency = currency
        self.amountDue = amountDue
        self.amountPaid = amountPaid
        self.subtotal = subtotal
        self.total = total
        self.created = created
        self.periodStart = periodStart
        self.periodEnd = periodEnd
        self.billingReason = billingReason
        self.lines = lines
        self.parent = parent
        self.subscription = subscription
        self.statusTransitions = statusTransitions
    }
}

public struct Refund: Codable, Sendable, Identifiable {
    public var id: String
    public var amount: Int
    public var currency: String
    public var created: Int
    public var status: String?

    public init(
        id: String,
        amount: Int,
        currency: String,
        created: Int,
        status: String? = nil
    ) {
        self.id = id
        self.amount = amount
        self.currency = currency
        self.created = created
        self.status = status
    }
}

public struct Dispute: Codable, Sendable, Identifiable {
    public struct Status: OpenStringEnum {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let won: Self = "won"
        public static let lost: Self = "lost"
        public static let needsResponse: Self = "needs_response"
        public static let underReview: Self = "under_review"
    }

    public var id: String
    public var amount: Int
    public var currency: String
    public var charge: ExpandableID
    public var status: Status
    public var reason: String?
    public var created: Int

    public init(
        id: String,
        amount: Int,
        currency: String,
        charge: ExpandableID,
        status: Status,
        reason: String? = nil,
        created: Int
    ) {
        self.id = id
        self.amount = amount
        self.currency = currency
        self.charge = charge
        self.status = status
        self.reason = reason
        self.created = created
    }
}

public struct Charge: Codable, Sendable, Identifiable {
    public struct Status: OpenStringEnum {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let succeeded: Self = "succeeded"
        public static let pending: Self = "pending"
        public static let failed: Self = "failed"
    }

    public var id: String
    public var amount: Int
    public var amountCaptured: Int?
    public var amountRefunded: Int
    public var currency: String
    public var customer: ExpandableID?
    public var created: Int
    public var status: Status
    public var paid: Bool?
    public var refunded: Bool?
    public var disputed: Bool?
    public var invoice: ExpandableID?
    public var description: String?
    public var failureCode: String?
    public var refunds: StripeList<Refund>?
    public var dispute: ExpandableID?

    enum CodingKeys: String, CodingKey {
        case id, amount, currency, customer, created, status, paid, refunded, disputed, invoice, description, refunds, dispute
        case amountCaptured = "amount_captured"
        case amountRefunded = "amount_refunded"
        case failureCode = "failure_code"
    }

    public init(
        id: String,
        amount: Int,
        amountCaptured: Int? = nil,
        amountRefunded: Int,
        currency: String,
        customer: ExpandableID? = nil,
        created: Int,
        status: Status,
        paid: Bool? = nil,
        refunded: Bool? = nil,
        disputed: Bool? = nil,
        invoice: ExpandableID? = nil,
        description: String? = nil,
        failureCode: String? = nil,
        refunds: StripeList<Refund>? = nil,
        dispute: ExpandableID? = nil
    ) {
        self.id = id
        self.amount = amount
        self.amountCaptured = amountCaptured
        self.amountRefunded = amountRefunded
        self.currency = currency
        self.customer = customer
        self.created = created
        self.status = status
        self.paid = paid
        self.refunded = refunded
        self.disputed = disputed
        self.invoice = invoice
        self.description = description
        self.failureCode = failureCode
        self.refunds = refunds
        self.dispute = dispute
    }
}

public struct CheckoutSession: Codable, Sendable, Identifiable {
    public struct Mode: OpenStringEnum {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let payment: Self = "payment"
        public static let setup: Self = "setup"
        public static let subscription: Self = "subscription"
    }

    public struct Status: OpenStringEnum {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let open: Self = "open"
        public static let complete: Self = "complete"
        public static let expired: Self = "expired"
    }

    public struct CustomerDetails: Codable, Sendable {
        public var email: String?

        public init(
            email: String? = nil
        ) {
            self.email = email
        }
    }

    public var id: String
    public var url: String?
    public var mode: Mode
    public var status: Status?
    public var paymentStatus: String?
    public var customer: ExpandableID?
    public var customerEmail: String?
    public var customerDetails: CustomerDetails?
    public var clientReferenceID: String?
    public var subscription: ExpandableID?
    public var metadata: [String: String]?
    public var successURL: String?
    public var cancelURL: String?
    public var created: Int

    enum CodingKeys: String, CodingKey {
        case id, url, mode, status, customer, subscription, metadata, created
        case paymentStatus = "payment_status"
        case customerEmail = "customer_email"
        case customerDetails = "customer_details"
        case clientReferenceID = "client_reference_id"
        case successURL = "success_url"
        case cancelURL = "cancel_url"
    }

    public init(
        id: String,
        url: String? = nil,
        mode: Mode,
        status: Status? = nil,
        paymentStatus: String? = nil,
        customer: ExpandableID? = nil,
        customerEmail: String? = nil,
        customerDetails: CustomerDetails? = nil,
        clientReferenceID: String? = nil,
        subscription: ExpandableID? = nil,
        metadata: [String: String]? = nil,
        successURL: String? = nil,
        cancelURL: String? = nil,
        created: Int
    ) {
        self.id = id
        self.url = url
        self.mode = mode
        self.status = status
        self.paymentStatus = paymentStatus
        self.customer = customer
        self.customerEmail = customerEmail
        self.customerDetails = customerDetails
        self.clientReferenceID = clientReferenceID
        self.subscription = subscription
        self.metadata = metadata
        self.successURL = successURL
        self.cancelURL = cancelURL
        self.created = created
    }
}

public struct Account: Codable, Sendable, Identifiable {
    public struct BusinessProfile: Codable, Sendable {
        public var name: String?

        public init(
            name: String? = nil
        ) {
            self.name = name
        }
    }
    public struct Settings: Codable, Sendable {
        public struct Dashboard: Codable, Sendable {
            public var displayName: String?
            enum CodingKeys: String, CodingKey { case displayName = "display_name" }

            public init(
                displayName: String? = nil
            ) {
                self.displayName = displayName
            }
        }
        public var dashboard: Dashboard?

        public init(
            dashboard: Dashboard? = nil
        ) {
            self.dashboard = dashboard
        }
    }

    public var id: String
    public var email: String?
    public var country: String?
    public var defaultCurrency: String?
    public var businessProfile: BusinessProfile?
    public var settings: Settings?

    /// The name a person would recognise: the business name, else the dashboard's display name.
    public var displayName: String? { businessProfile?.name ?? settings?.dashboard?.displayName }

    enum CodingKeys: String, CodingKey {
        case id, email, country, settings
        case defaultCurrency = "default_currency"
        case businessProfile = "business_profile"
    }

    public init(
        id: String,
        email: String? = nil,
        country: String? = nil,
        defaultCurrency: String? = nil,
        businessProfile: BusinessProfile? = nil,
        settings: Settings? = nil
    ) {
        self.id = id
        self.email = email
        self.country = country
        self.defaultCurrency = defaultCurrency
        self.businessProfile = businessProfile
        self.settings = settings
    }
}

/// A webhook or `/v1/events` event. `data.object` stays raw JSON until the handler knows what it is.
public struct Event: Sendable, Identifiable {
    public var id: String
    public var type: String
    public var created: Int
    public var apiVersion: String?
    public var livemode: Bool?
    /// The connected account the event happened on, for Connect events.
    public var account: String?
    public var objectType: String
    /// The event's JSON as received.
    public let payload: Data

    private struct DataHeader: Decodable {
        struct ObjectHeader: Decodable { let object: String }
        let object: ObjectHeader
    }

    private struct Envelope<Object: Decodable>: Decodable {
        struct Wrapped: Decodable { let object: Object }
        let data: Wrapped
    }

    /// Decodes the envelope of an event and keeps `payload` so the object can be decoded by type later.
    public static func decode(_ payload: Data) throws -> Event {
        let header = try JSONDecoder().decode(Header.self, from: payload)
        return Event(
            id: header.id,
            type: header.type,
            created: header.created,
            apiVersion: header.apiVersion,
            livemode: header.livemode,
            account: header.account,
            objectType: header.data.object.object,
            payload: payload
        )
    }

    /// `data.object` as the given model.
    public func object<Object: Decodable>(as type: Object.Type) throws -> Object {
        try JSONDecoder().decode(Envelope<Object>.self, from: payload).data.object
    }

    private struct Header: Decodable {
        let id: String
        let type: String
        let created: Int
        let apiVersion: String?
        let livemode: Bool?
        let account: String?
        let data: DataHeader

        enum CodingKeys: String, CodingKey {
            case id, type, created, livemode, account, data
            case apiVersion = "api_version"
        }
    }

    private init(id: String, type: String, created: Int, apiVersion: String?, livemode: Bool?, account: String?, objectType: String, payload: Data) {
        self.id = id
        self.type = type
        self.created = created
        self.apiVersion = apiVersion
        self.livemode = livemode
        self.account = account
        self.objectType = objectType
        self.payload = payload
    }
}
