import Foundation
import Hummingbird
import PlanKit

/// What the dashboard asks for in `{"dataType"}`.
public enum RevioDataType: String, Codable, Sendable, CaseIterable {
    case all
    case customersByTicket = "customers_by_ticket"
    case customersBySLA = "customers_by_sla"
    case customersByRevenue = "customers_by_revenue"
    case subscriptions
    case recentInteractions = "recent_interactions"
}

/// The seed's response: `{success, message?, data: {…}, source, fetched_at, stale}`. Parts that were not asked for
/// are empty arrays, and `subscriptions` zeros, never null (the seed's hook reads `data?.subscriptions.active`).
/// Every group the seed names is present, empty ones included; groups list one page of customers and `count` is the
/// whole group's size.
struct DashboardResponse: ResponseEncodable, Codable {
    struct TicketGroup: Codable, Equatable {
        var status: String
        var count: Int
        var customers: [RevioCustomer]
    }
    struct SLAGroup: Codable, Equatable {
        var slaTier: String
        var count: Int
        var customers: [RevioCustomer]
        enum CodingKeys: String, CodingKey {
            case count, customers
            case slaTier = "sla_tier"
        }
    }
    struct RevenueGroup: Codable, Equatable {
        var revenueTier: String
        var count: Int
        /// Monthly revenue of the group's customers in `currency`, in major units, with the cents beside it.
        var totalRevenue: Decimal
        var totalRevenueCents: Int64
        var currency: String
        var customers: [RevioCustomer]
        enum CodingKeys: String, CodingKey {
            case count, customers, currency
            case revenueTier = "revenue_tier"
            case totalRevenue = "total_revenue"
            case totalRevenueCents = "total_revenue_cents"
        }
    }
    struct Pagination: Codable, Equatable {
        var page: Int
        var perPage: Int
        var totalCustomers: Int
        enum CodingKeys: String, CodingKey {
            case page
            case perPage = "per_page"
            case totalCustomers = "total_customers"
        }
    }
    struct Payload: Codable, Equatable {
        var customersByTicket: [TicketGroup] = []
        var customersBySLA: [SLAGroup] = []
        var customersByRevenue: [RevenueGroup] = []
        var subscriptions = RevioGrouping.SubscriptionCounts()
        var recentInteractions: [RevioInteraction] = []
        var pagination: Pagination

        enum CodingKeys: String, CodingKey {
            case subscriptions, pagination
            case customersByTicket = "customers_by_ticket"
            case customersBySLA = "customers_by_sla"
            case customersByRevenue = "customers_by_revenue"
            case recentInteractions = "recent_interactions"
        }
    }

    var success: Bool
    var message: String?
    var data: Payload
    var source: String
    var fetchedAt: Date
    var stale: Bool

    enum CodingKeys: String, CodingKey {
        case success, message, data, source, stale
        case fetchedAt = "fetched_at"
    }

    /// Builds the requested part of the response from a data set. No I/O.
    static func build(_ fetched: FetchedDataset, dataType: RevioDataType, page: Int, perPage: Int, currency: String) -> DashboardResponse {
        let customers = fetched.dataset.customers
        func slice(_ group: [RevioCustomer]) -> [RevioCustomer] {
            Array(group.dropFirst((page - 1) * perPage).prefix(perPage))
        }
        var data = Payload(pagination: Pagination(page: page, perPage: perPage, totalCustomers: customers.count))
        if dataType == .all || dataType == .customersByTicket {
            data.customersByTicket = RevioGrouping.group(customers, by: \.ticketStatus, keys: RevioMapping.ticketStatuses)
                .map { TicketGroup(status: $0.key, count: $0.customers.count, customers: slice($0.customers)) }
        }
        if dataType == .all || dataType == .customersBySLA {
            data.customersBySLA = RevioGrouping.group(customers, by: \.slaTier, keys: RevioMapping.seedSLATiers)
                .map { SLAGroup(slaTier: $0.key, count: $0.customers.count, customers: slice($0.customers)) }
        }
        if dataType == .all || dataType == .customersByRevenue {
            data.customersByRevenue = RevioGrouping.group(customers, by: \.revenueTier, keys: RevioMapping.revenueTiers)
                .map { group in
                    let total = Money(
                        cents: group.customers.filter { $0.currency == currency }.reduce(0) { $0 + $1.monthlyRevenueCents },
                        currency: currency
                    )
                    return RevenueGroup(
                        revenueTier: group.key,
                        count: group.customers.count,
                        totalRevenue: total.majorUnits,
                        totalRevenueCents: total.amountCents,
                        currency: currency,
                        customers: slice(group.customers)
                    )
                }
        }
        if dataType == .all || dataType == .subscriptions { data.subscriptions = RevioGrouping.subscriptionCounts(customers) }
        if dataType == .all || dataType == .recentInteractions { data.recentInteractions = fetched.dataset.interactions }
        return DashboardResponse(
            success: true,
            message: fetched.message,
            data: data,
            source: fetched.source,
            fetchedAt: fetched.fetchedAt,
            stale: fetched.stale
        )
    }
}
