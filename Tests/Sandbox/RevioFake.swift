import Foundation
import HTTPTypes
import Hummingbird
import RevioData
import ServiceKit

/// Revio's API over a generated customer base: the same records for the same size and seed, so tests can compute
/// what the dashboard must show from `customers`, `tickets`, … directly.
public final class RevioFake: Sendable {
    public let apiKey: String
    public let customers: [RevioRecords.Customer]
    public let tickets: [String: [RevioRecords.Ticket]]
    public let subscriptions: [String: RevioRecords.Subscription]
    public let slas: [String: RevioRecords.SLA]
    public let revenue: [RevioRecords.CustomerRevenue]
    public let transactions: [RevioRecords.Transaction]

    init(size: Int, seed: UInt64, apiKey: String) {
        self.apiKey = apiKey
        var random = SeededRandom(seed: seed)
        var customers: [RevioRecords.Customer] = []
        var tickets: [String: [RevioRecords.Ticket]] = [:]
        var subscriptions: [String: RevioRecords.Subscription] = [:]
        var slas: [String: RevioRecords.SLA] = [:]
        var revenue: [RevioRecords.CustomerRevenue] = []
        let ticketStatuses = ["open", "pending", "resolved", "closed"]
        let subscriptionStatuses = ["active", "active", "past_due", "trialing", "canceled", "paused"]
        let tiers = ["platinum", "gold", "silver", "bronze", "standard"]
        for index in 0..<size {
            let id = "rv_cus_\(index + 1)"
            customers.append(
                .init(
                    id: id,
                    name: "Customer \(index + 1)",
                    email: "c\(index + 1)@revio.example",
                    company: "Company \(index % 97)",
                    status: "active",
                    createdAt: "2025-01-01T00:00:00Z"
                )
            )
            tickets[id] = (0..<random.next(4)).map {
                RevioRecords.Ticket(id: "\(id)_t\($0)", status: ticketStatuses[random.next(ticketStatuses.count)], subject: "Ticket \($0)")
            }
            // About one customer in seven has no subscription at all (Revio answers 404).
            if random.next(7) != 0 {
                subscriptions[id] = .init(status: subscriptionStatuses[random.next(subscriptionStatuses.count)], plan: "plan_\(random.next(3))")
            }
            if random.next(9) != 0 { slas[id] = .init(tier: tiers[random.next(tiers.count)]) }
            let monthly = Int64(random.next(900_000))
            revenue.append(
                .init(customerID: id, monthlyRevenueCents: monthly, totalRevenueCents: monthly * Int64(1 + random.next(36)), currency: "usd")
            )
        }
        let types = ["payment", "refund", "invoice", "support_call", "plan_change"]
        transactions = (0..<max(size / 4, 60)).map { index in
            RevioRecords.Transaction(
                id: "rv_txn_\(index)",
                customerID: "rv_cus_\(1 + random.next(max(size, 1)))",
                type: types[random.next(types.count)],
                amountCents: Int64(random.next(500_000)),
                currency: "usd",
                createdAt: String(format: "2026-%02d-%02dT%02d:%02d:00Z", 1 + random.next(11), 1 + random.next(28), random.next(24), random.next(60)),
                description: "Transaction \(index)"
            )
        }
        self.customers = customers
        self.tickets = tickets
        self.subscriptions = subscriptions
        self.slas = slas
        self.revenue = revenue
    }

    func addRoutes(to router: Router<BasicRequestContext>) {
        let revio = router.group("revio").add(middleware: BearerKeyMiddleware(key: apiKey))
        revio.get("customers") { request, _ in
            let page = max(request.uri.queryParameters.get("page", as: Int.self) ?? 1, 1)
            let perPage = min(max(request.uri.queryParameters.get("per_page", as: Int.self) ?? 50, 1), 500)
            let slice = Array(self.customers.dropFirst((page - 1) * perPage).prefix(perPage))
            return try jsonResponse(
                RevioRecords.Page(
                    data: slice,
                    page: page,
                    perPage: perPage,
                    total: self.customers.count,
                    hasMore: page * perPage < self.customers.count
                )
            )
        }
        revio.get("customers/:id/tickets") { _, context in
            let id = try context.parameters.require("id")
            guard let tickets = self.tickets[id] else { return try jsonResponse(["error": "not found"], status: .notFound) }
            return try jsonResponse(RevioRecords.List(data: tickets))
        }
        revio.get("customers/:id/subscription") { _, context in
            guard let subscription = self.subscriptions[try context.parameters.require("id")] else {
                return try jsonResponse(["error": "no subscription"], status: .notFound)
            }
            return try jsonResponse(subscription)
        }
        revio.get("customers/:id/sla") { _, context in
            guard let sla = self.slas[try context.parameters.require("id")] else { return try jsonResponse(["error": "no SLA"], status: .notFound) }
            return try jsonResponse(sla)
        }
        revio.get("transactions") { request, _ in
            let limit = min(max(request.uri.queryParameters.get("limit", as: Int.self) ?? 50, 1), 500)
            let newest = self.transactions.sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }.prefix(limit)
            return try jsonResponse(RevioRecords.List(data: Array(newest)))
        }
        revio.get("analytics/revenue") { _, _ in try jsonResponse(RevioRecords.Revenue(customers: self.revenue)) }
    }
}

/// `Authorization: Bearer <key>` or 401.
struct BearerKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.headers[.authorization] == "Bearer \(key)" else { return try jsonResponse(["error": "unauthorized"], status: .unauthorized) }
        return try await next(request, context)
    }
}
