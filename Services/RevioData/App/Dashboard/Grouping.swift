import Foundation
import PlanKit

/// A customer as the sales dashboard reads it: the seed's `RevioCustomer` (`id`, `name`, `email`, `company?`,
/// `subscription_tier?`, `monthly_revenue?`, `sla_tier?`, `status`), with what the groups need beside it.
/// Amounts are kept in cents and written in both forms: `monthly_revenue` in major units, `monthly_revenue_cents`.
public struct RevioCustomer: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var email: String
    public var company: String?
    public var subscriptionTier: String?
    public var monthlyRevenueCents: Int64
    public var totalRevenueCents: Int64
    public var currency: String
    /// One of the seed's four: `platinum`, `gold`, `silver`, `bronze`.
    public var slaTier: String
    /// `active`, `trial` or `churned`.
    public var status: String
    /// `open`, `in_progress` or `resolved`; nil for a customer without tickets.
    public var ticketStatus: String?
    public var openTickets: Int
    /// `enterprise`, `mid_market` or `smb`.
    public var revenueTier: String
    public var createdAt: String?

    enum CodingKeys: String, CodingKey {
        case id, name, email, company, currency, status
        case subscriptionTier = "subscription_tier"
        case monthlyRevenue = "monthly_revenue"
        case monthlyRevenueCents = "monthly_revenue_cents"
        case totalRevenue = "total_revenue"
        case totalRevenueCents = "total_revenue_cents"
        case slaTier = "sla_tier"
        case ticketStatus = "ticket_status"
        case openTickets = "open_tickets"
        case revenueTier = "revenue_tier"
        case createdAt = "created_at"
    }

    public init(
        id: String,
        name: String,
        email: String,
        company: String?,
        subscriptionTier: String?,
        monthlyRevenueCents: Int64,
        totalRevenueCents: Int64,
        currency: String,
        slaTier: String,
        status: String,
        ticketStatus: String?,
        openTickets: Int,
        revenueTier: String,
        createdAt: String?
    ) {
        self.id = id
        self.name = name
        self.email = email
        self.company = company
        self.subscriptionTier = subscriptionTier
        self.monthlyRevenueCents = monthlyRevenueCents
        self.totalRevenueCents = totalRevenueCents
        self.currency = currency
        self.slaTier = slaTier
        self.status = status
        self.ticketStatus = ticketStatus
        self.openTickets = openTickets
        self.revenueTier = revenueTier
        self.createdAt = createdAt
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        name = try container.decode(String.self, forKey: .name)
        email = try container.decode(String.self, forKey: .email)
        company = try container.decodeIfPresent(String.self, forKey: .company)
        subscriptionTier = try container.decodeIfPresent(String.self, forKey: .subscriptionTier)
        monthlyRevenueCents = try container.decode(Int64.self, forKey: .monthlyRevenueCents)
        totalRevenueCents = try container.decode(Int64.self, forKey: .totalRevenueCents)
        currency = try container.decode(String.self, forKey: .currency)
        slaTier = try container.decode(String.self, forKey: .slaTier)
        status = try container.decode(String.self, forKey: .status)
        ticketStatus = try container.decodeIfPresent(String.self, forKey: .ticketStatus)
        openTickets = try container.decode(Int.self, forKey: .openTickets)
        revenueTier = try container.decode(String.self, forKey: .revenueTier)
        createdAt = try container.decodeIfPresent(String.self, forKey: .createdAt)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(email, forKey: .email)
        try container.encodeIfPresent(company, forKey: .company)
        try container.encodeIfPresent(subscriptionTier, forKey: .subscriptionTier)
        try container.encodeAmount(Money(cents: monthlyRevenueCents, currency: currency), forKey: .monthlyRevenue, centsKey: .monthlyRevenueCents)
        try container.encodeAmount(Money(cents: totalRevenueCents, currency: currency), forKey: .totalRevenue, centsKey: .totalRevenueCents)
        try container.encode(currency, forKey: .currency)
        try container.encode(slaTier, forKey: .slaTier)
        try container.encode(status, forKey: .status)
        try container.encodeIfPresent(ticketStatus, forKey: .ticketStatus)
        try container.encode(openTickets, forKey: .openTickets)
        try container.encode(revenueTier, forKey: .revenueTier)
        try container.encodeIfPresent(createdAt, forKey: .createdAt)
    }
}

/// One entry of `recent_interactions`: the seed's `CustomerInteraction`, with `amount` in major units beside
/// `amount_cents` (both absent for a ticket).
public struct RevioInteraction: Codable, Sendable, Equatable {
    public var customerName: String
    /// One of `RevioMapping.interactionTypes`.
    public var interactionType: String
    public var amountCents: Int64?
    public var currency: String
    public var timestamp: String
    public var details: String?

    enum CodingKeys: String, CodingKey {
        case amount, currency, timestamp, details
        case amountCents = "amount_cents"
        case customerName = "customer_name"
        case interactionType = "interaction_type"
    }

    public init(customerName: String, interactionType: String, amountCents: Int64?, currency: String, timestamp: String, details: String?) {
        self.customerName = customerName
        self.interactionType = interactionType
        self.amountCents = amountCents
        self.currency = currency
        self.timestamp = timestamp
        self.details = details
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        customerName = try container.decode(String.self, forKey: .customerName)
        interactionType = try container.decode(String.self, forKey: .interactionType)
        amountCents = try container.decodeIfPresent(Int64.self, forKey: .amountCents)
        currency = try container.decode(String.self, forKey: .currency)
        timestamp = try container.decode(String.self, forKey: .timestamp)
        details = try container.decodeIfPresent(String.self, forKey: .details)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(customerName, forKey: .customerName)
        try container.encode(interactionType, forKey: .interactionType)
        if let amountCents { try container.encodeAmount(Money(cents: amountCents, currency: currency), forKey: .amount, centsKey: .amountCents) }
        try container.encode(currency, forKey: .currency)
        try container.encode(timestamp, forKey: .timestamp)
        try container.encodeIfPresent(details, forKey: .details)
    }
}

/// Everything the dashboard groups, as fetched at one moment.
public struct RevioDataset: Codable, Sendable, Equatable {
    public var customers: [RevioCustomer]
    public var interactions: [RevioInteraction]
}

/// Monthly revenue at or above which a customer is in a tier; below mid-market is SMB.
public struct RevenueTierThresholds: Sendable, Equatable {
    public var enterpriseCents: Int64 = 500_000
    public var midMarketCents: Int64 = 100_000

    public init(enterpriseCents: Int64 = 500_000, midMarketCents: Int64 = 100_000) {
        self.enterpriseCents = enterpriseCents
        self.midMarketCents = midMarketCents
    }

    public func tier(monthlyRevenueCents: Int64) -> String {
        if monthlyRevenueCents >= enterpriseCents { return "enterprise" }
        if monthlyRevenueCents >= midMarketCents { return "mid_market" }
        return "smb"
    }
}

/// How Revio's vocabulary becomes the seed's: every table the README's compatibility section documents. No I/O.
public struct RevioMapping: Sendable, Equatable {
    public var thresholds = RevenueTierThresholds()
    /// Revio SLA names (lowercase) to the seed's four tiers; `REVIO_SLA_TIERS` adds to or overrides them.
    public var slaTiers: [String: String] = Self.defaultSLATiers

    public static let seedSLATiers = ["platinum", "gold", "silver", "bronze"]
    public static let defaultSLATiers: [String: String] = [
        "platinum": "platinum", "gold": "gold", "silver": "silver", "bronze": "bronze",
        "enterprise": "platinum", "premium": "gold", "priority": "gold", "business": "gold",
        "standard": "silver", "basic": "bronze", "essential": "bronze", "none": "bronze",
    ]
    /// Where an SLA name is in no table (and where a customer has no SLA).
    public static let fallbackSLATier = "bronze"

    public static let ticketStatuses = ["open", "in_progress", "resolved"]
    static let ticketStatusWords: [String: String] = [
        "open": "open", "new": "open", "reopened": "open",
        "pending": "in_progress", "in_progress": "in_progress", "on_hold": "in_progress", "waiting": "in_progress", "hold": "in_progress",
        "resolved": "resolved", "closed": "resolved", "solved": "resolved",
    ]

    public static let revenueTiers = ["enterprise", "mid_market", "smb"]

    public static let interactionTypes = ["payment_received", "ticket_created", "subscription_upgraded", "subscription_downgraded"]
    /// Revio transaction types to the seed's interactions; types not here (refunds, invoices, credits) are left out.
    /// A `plan_change` is an upgrade when it charges and a downgrade when it credits.
    static let interactionWords: [String: String] = [
        "payment": "payment_received", "payment_received": "payment_received", "charge": "payment_received",
        "ticket": "ticket_created", "ticket_created": "ticket_created", "support_ticket": "ticket_created", "support_call": "ticket_created",
        "upgrade": "subscription_upgraded", "subscription_upgraded": "subscription_upgraded",
        "downgrade": "subscription_downgraded", "subscription_downgraded": "subscription_downgraded",
    ]

    public init(thresholds: RevenueTierThresholds = RevenueTierThresholds(), slaTiers: [String: String] = [:]) {
        self.thresholds = thresholds
        self.slaTiers = Self.defaultSLATiers.merging(slaTiers.map { ($0.key.lowercased(), $0.value) }) { $1 }
    }

    /// The seed's SLA tier, and whether Revio's name was known (an unknown one falls back and should be reported).
    public func slaTier(_ revio: String?) -> (tier: String, known: Bool) {
        guard let revio else { return (Self.fallbackSLATier, true) }
        guard let tier = slaTiers[revio.lowercased()] else { return (Self.fallbackSLATier, false) }
        return (tier, true)
    }

    /// A customer's ticket status is its most pressing ticket's: open, then in progress, then resolved; an unknown
    /// ticket status counts as open, so it is looked at.
    public static func ticketStatus(_ tickets: [RevioRecords.Ticket]) -> String? {
        let statuses = Set(tickets.map { ticketStatusWords[$0.status.lowercased()] ?? "open" })
        return ticketStatuses.first { statuses.contains($0) }
    }

    /// Revio's subscription state to the seed's three; without a subscription record, the customer's own status.
    public static func status(subscription: RevioRecords.Subscription?, customer: RevioRecords.Customer) -> String {
        switch (subscription?.status ?? customer.status ?? "").lowercased() {
        case "active", "past_due", "unpaid": "active"
        case "trial", "trialing", "in_trial": "trial"
        default: "churned"
        }
    }

    public static func interactionType(_ transaction: RevioRecords.Transaction) -> String? {
        let type = transaction.type.lowercased()
        if type == "plan_change" { return transaction.amountCents >= 0 ? "subscription_upgraded" : "subscription_downgraded" }
        return interactionWords[type]
    }
}

/// Revio's records to dashboard customers, and customers to the dashboard's groups. No I/O.
public enum RevioGrouping {
    public static let interactionLimit = 50

    public static func customer(_ detail: RevioRecords.CustomerDetail, revenue: RevioRecords.CustomerRevenue?, mapping: RevioMapping) -> RevioCustomer
    {
        let monthly = revenue?.monthlyRevenueCents ?? 0
        return RevioCustomer(
            id: detail.customer.id,
            name: detail.customer.name,
            email: detail.customer.email ?? "",
            company: detail.customer.company,
            subscriptionTier: detail.subscription?.plan,
            monthlyRevenueCents: monthly,
            totalRevenueCents: revenue?.totalRevenueCents ?? 0,
            currency: revenue?.currency.lowercased() ?? "usd",
            slaTier: mapping.slaTier(detail.sla?.tier).tier,
            status: RevioMapping.status(subscription: detail.subscription, customer: detail.customer),
            ticketStatus: RevioMapping.ticketStatus(detail.tickets),
            openTickets: detail.tickets.filter { RevioMapping.ticketStatusWords[$0.status.lowercased()] == "open" }.count,
            revenueTier: mapping.thresholds.tier(monthlyRevenueCents: monthly),
            createdAt: detail.customer.createdAt
        )
    }

    /// The 50 most recent transactions of the seed's four kinds, newest first, named by customer.
    public static func recentInteractions(_ transactions: [RevioRecords.Transaction], names: [String: String]) -> [RevioInteraction] {
        transactions
            .sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }
            .compactMap { transaction -> RevioInteraction? in
                guard let type = RevioMapping.interactionType(transaction) else { return nil }
                return RevioInteraction(
                    customerName: names[transaction.customerID] ?? "Unknown customer",
                    interactionType: type,
                    amountCents: type == "ticket_created" ? nil : transaction.amountCents,
                    currency: transaction.currency.lowercased(),
                    timestamp: transaction.createdAt,
                    details: transaction.description
                )
            }
            .prefix(interactionLimit)
            .map { $0 }
    }

    public struct Group: Sendable, Equatable {
        public var key: String
        public var customers: [RevioCustomer]
    }

    /// One group per key in `keys`, in that order, empty ones included; customers by name. Customers whose key is
    /// nil (no tickets) are in no group.
    public static func group(_ customers: [RevioCustomer], by key: (RevioCustomer) -> String?, keys: [String]) -> [Group] {
        let grouped = Dictionary(grouping: customers.compactMap { customer in key(customer).map { ($0, customer) } }, by: \.0)
        return keys.map { name in
            Group(key: name, customers: (grouped[name] ?? []).map(\.1).sorted { ($0.name, $0.id) < ($1.name, $1.id) })
        }
    }

    public struct SubscriptionCounts: Codable, Sendable, Equatable {
        public var active = 0
        public var trial = 0
        public var churned = 0
        public var total = 0
    }

    public static func subscriptionCounts(_ customers: [RevioCustomer]) -> SubscriptionCounts {
        var counts = SubscriptionCounts()
        for customer in customers {
            switch customer.status {
            case "active": counts.active += 1
            case "trial": counts.trial += 1
            default: counts.churned += 1
            }
            counts.total += 1
        }
        return counts
    }
}
