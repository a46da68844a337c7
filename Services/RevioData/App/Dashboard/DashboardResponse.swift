import Foundation
import Hummingbird

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
/// are empty (`subscriptions` is null); groups list one page of customers and `count` is the whole group's size.
struct DashboardResponse: ResponseEncodable, Decodable, Equatable {
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
        /// Monthly revenue of the whole group, in cents.
        var totalRevenue: Int64
        var customers: [RevioCustomer]
        enum CodingKeys: String, CodingKey {
            case count, customers
            case revenueTier = "revenue_tier"
            case totalRevenue = "total_revenue"
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
        var subscriptions: RevioGrouping.SubscriptionCounts?
        var recentInteractions: [RevioInteraction] = []
        var pagination: Pagination

        enum CodingKeys: String, CodingKey {
            case subscriptions, pagination
            case customersByTicket = "customers_by_ticket"
            case customersBySLA = "customers_by_sla"
            case customersByRevenue = "customers_by_revenue"
            case recentInteractions = "recent_interactions"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(customersByTicket, forKey: .customersByTicket)
            try container.encode(customersBySLA, forKey: .customersBySLA)
            try container.encode(customersByRevenue, forKey: .customersByRevenue)
            try container.encode(subscriptions, forKey: .subscriptions)
            try container.encode(recentInteractions, forKey: .recentInteractions)
            try container.encode(pagination, forKey: .pagination)
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
    static func build(_ fetched: FetchedDataset, dataType: RevioDataType, page: Int, perPage: Int) -> DashboardResponse {
        let customers = fetched.dataset.customers
        func slice(_ group: [RevioCustomer]) -> [RevioCustomer] {
            Array(group.dropFirst((page - 1) * perPage).prefix(perPage))
        }
        var data = Payload(pagination: Pagination(page: page, perPage: perPage, totalCustomers: customers.count))
        if dataType == .all || dataType == .customersByTicket {
            data.customersByTicket = RevioGrouping.group(customers, by: \.ticketStatus, order: RevioGrouping.ticketOrder)
                .map { TicketGroup(status: $0.key, count: $0.customers.count, customers: slice($0.customers)) }
        }
        if dataType == .all || dataType == .customersBySLA {
            data.customersBySLA = RevioGrouping.group(customers, by: \.slaTier, order: RevioGrouping.slaOrder)
                .map { SLAGroup(slaTier: $0.key, count: $0.customers.count, customers: slice($0.customers)) }
        }
        if dataType == .all || dataType == .customersByRevenue {
            data.customersByRevenue = RevioGrouping.group(customers, by: \.revenueTier, order: RevioGrouping.revenueOrder)
                .map {
                    RevenueGroup(
                        revenueTier: $0.key,
                        count: $0.customers.count,
                        totalRevenue: $0.customers.reduce(0) { $0 + $1.monthlyRevenue },
                        customers: slice($0.customers)
                    )
                }
        }
        if dataType == .all || dataType == .subscriptions { data.subscriptions = RevioGrouping.subscriptionCounts(customers) }
        if dataType == .all || dataType == .recentInteractions { data.recentInteractions = fetched.dataset.interactions }
        return DashboardResponse(success: true, message: fetched.message, data: data, source: fetched.source, fetchedAt: fetched.fetchedAt, stale: fetched.stale)
    }
}
