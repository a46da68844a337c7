import Foundation

/// A customer as the sales dashboard shows it (the seed's `RevioCustomer`). Amounts are integer cents.
public struct RevioCustomer: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var email: String?
    public var company: String?
    public var ticketStatus: String
    public var openTickets: Int
    public var slaTier: String
    public var revenueTier: String
    public var monthlyRevenue: Int64
    public var totalRevenue: Int64
    public var currency: String
    public var subscriptionStatus: String
    public var plan: String?
    public var createdAt: String?

    enum CodingKeys: String, CodingKey {
        case id, name, email, company, currency, plan
        case ticketStatus = "ticket_status"
        case openTickets = "open_tickets"
        case slaTier = "sla_tier"
        case revenueTier = "revenue_tier"
        case monthlyRevenue = "monthly_revenue"
        case totalRevenue = "total_revenue"
        case subscriptionStatus = "subscription_status"
        case createdAt = "created_at"
    }
}

/// One entry of `recent_interactions`.
public struct RevioInteraction: Codable, Sendable, Equatable {
    public var customerName: String
    public var interactionType: String
    public var amount: Int64
    public var currency: String
    public var timestamp: String
    public var details: String?

    enum CodingKeys: String, CodingKey {
        case amount, currency, timestamp, details
        case customerName = "customer_name"
        case interactionType = "interaction_type"
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
        if monthlyRevenueCents >= midMarketCents { return "mid-market" }
        return "smb"
    }
}

/// Revio's records to dashboard customers, and customers to the dashboard's groups. No I/O.
public enum RevioGrouping {
    public static let interactionLimit = 50

    /// A customer's ticket status is its most pressing ticket's: open, then pending, then resolved.
    public static func ticketStatus(_ tickets: [RevioRecords.Ticket]) -> String {
        let statuses = Set(tickets.map { $0.status.lowercased() })
        for status in ["open", "pending"] where statuses.contains(status) { return status }
        if !statuses.isEmpty { return "resolved" }
        return "no_tickets"
    }

    /// Revio's subscription states to the dashboard's three (and `none` for a customer without one).
    public static func subscriptionState(_ subscription: RevioRecords.Subscription?) -> String {
        switch subscription?.status.lowercased() {
        case nil: "none"
        case "active", "past_due": "active"
        case "trial", "trialing": "trial"
        case "canceled", "cancelled", "churned", "ended": "churned"
        case let other?: other
        }
    }

    public static func customer(
        _ detail: RevioRecords.CustomerDetail,
        revenue: RevioRecords.CustomerRevenue?,
        thresholds: RevenueTierThresholds
    ) -> RevioCustomer {
        let monthly = revenue?.monthlyRevenueCents ?? 0
        return RevioCustomer(
            id: detail.customer.id,
            name: detail.customer.name,
            email: detail.customer.email,
            company: detail.customer.company,
            ticketStatus: ticketStatus(detail.tickets),
            openTickets: detail.tickets.filter { $0.status.lowercased() == "open" }.count,
            slaTier: detail.sla?.tier.lowercased() ?? "standard",
            revenueTier: thresholds.tier(monthlyRevenueCents: monthly),
            monthlyRevenue: monthly,
            totalRevenue: revenue?.totalRevenueCents ?? 0,
            currency: revenue?.currency ?? "usd",
            subscriptionStatus: subscriptionState(detail.subscription),
            plan: detail.subscription?.plan,
            createdAt: detail.customer.createdAt
        )
    }

    /// The 50 most recent transactions, newest first, named by customer.
    public static func recentInteractions(_ transactions: [RevioRecords.Transaction], names: [String: String]) -> [RevioInteraction] {
        transactions
            .sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }
            .prefix(interactionLimit)
            .map {
                RevioInteraction(
                    customerName: names[$0.customerID] ?? "Unknown customer",
                    interactionType: $0.type,
                    amount: $0.amountCents,
                    currency: $0.currency,
                    timestamp: $0.createdAt,
                    details: $0.description
                )
            }
    }

    public struct Group<Key: Sendable & Equatable>: Sendable, Equatable {
        public var key: Key
        public var customers: [RevioCustomer]
    }

    /// Customers grouped by a key, groups in `order` first (then any others, alphabetically), customers by name.
    public static func group(_ customers: [RevioCustomer], by key: (RevioCustomer) -> String, order: [String]) -> [Group<String>] {
        let grouped = Dictionary(grouping: customers, by: key)
        let keys = order.filter { grouped[$0] != nil } + grouped.keys.filter { !order.contains($0) }.sorted()
        return keys.map { Group(key: $0, customers: grouped[$0]!.sorted { ($0.name, $0.id) < ($1.name, $1.id) }) }
    }

    public static let ticketOrder = ["open", "pending", "resolved", "no_tickets"]
    public static let slaOrder = ["platinum", "gold", "silver", "bronze", "standard"]
    public static let revenueOrder = ["enterprise", "mid-market", "smb"]

    public struct SubscriptionCounts: Codable, Sendable, Equatable {
        public var active = 0
        public var trial = 0
        public var churned = 0
        public var total = 0
    }

    public static func subscriptionCounts(_ customers: [RevioCustomer]) -> SubscriptionCounts {
        var counts = SubscriptionCounts()
        for customer in customers {
            switch customer.subscriptionStatus {
            case "active": counts.active += 1
            case "trial": counts.trial += 1
            case "churned": counts.churned += 1
            default: continue
            }
            counts.total += 1
        }
        return counts
    }
}
