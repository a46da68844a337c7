import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import ServiceKit
import Synchronization

/// Revio answered with an error, or not at all, after the retries.
struct RevioUnavailable: Error, CustomStringConvertible {
    let reason: String
    var description: String { reason }
}

/// Revio's REST API: Bearer key, per-call timeout, retries with backoff for 5xx, 429 (honouring `Retry-After`) and
/// connection errors, and bounded concurrency for the per-customer calls.
struct RevioClient: Sendable {
    let http: HTTPClient
    let baseURL: String
    let apiKey: String
    var timeout: Duration = .seconds(10)
    var retry = RetryPolicy(maxRetries: 3, baseDelay: .milliseconds(200), maxDelay: .seconds(5))
    var concurrency = 8
    var pageSize = 200
    let logger: Logger
    /// SLA names already reported as unknown, so each is logged once however often the data is refreshed.
    let reportedSLATiers = ReportedNames()

    private struct NotFound: Error {}

    func reportUnknownSLATiers(_ names: [String]) {
        for name in reportedSLATiers.firstSightings(names.map { $0.lowercased() }).sorted() {
            logger.warning(
                "Revio SLA tier is in no table; shown as \(RevioMapping.fallbackSLATier) (map it with REVIO_SLA_TIERS)",
                metadata: ["sla_tier": .string(name)]
            )
        }
    }

    func get<Value: Decodable>(_ path: String, as type: Value.Type = Value.self) async throws -> Value {
        var request = HTTPClientRequest(url: baseURL + path)
        request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        request.headers.add(name: "Accept", value: "application/json")
        var retries = 0
        while true {
            var retryAfter: Duration?
            let reason: String
            do {
                let response = try await http.execute(request, timeout: TimeAmount(timeout))
                let body = try await response.body.collect(upTo: 32 * 1024 * 1024)
                switch response.status.code {
                case 200..<300:
                    do {
                        return try JSONDecoder().decode(Value.self, from: body)
                    } catch {
                        throw RevioUnavailable(reason: "Revio sent an unreadable answer for \(path)")
                    }
                case 404:
                    throw NotFound()
                case 429, 500...599:
                    reason = "Revio answered \(response.status.code)"
                    retryAfter = response.headers.first(name: "Retry-After").flatMap { Int($0) }.map { .seconds(min($0, 30)) }
                default:
                    throw RevioUnavailable(reason: "Revio refused \(path) with \(response.status.code)")
                }
            } catch let error as NotFound {
                throw error
            } catch let error as RevioUnavailable {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                reason = "Revio could not be reached (\(error))"
            }
            guard retries < retry.maxRetries else { throw RevioUnavailable(reason: reason) }
            let backoff = retry.delay(forRetry: retries, unitRandom: Double.random(in: 0...1))
            logger.debug("retrying Revio", metadata: ["path": .string(path), "reason": .string(reason)])
            try await Task.sleep(for: max(backoff, retryAfter ?? .zero))
            retries += 1
        }
    }

    /// A record that may not exist (a customer without a subscription).
    func optional<Value: Decodable>(_ path: String, as type: Value.Type = Value.self) async throws -> Value? {
        do { return try await get(path, as: type) } catch is NotFound { return nil }
    }

    /// Every customer with tickets, subscription and SLA, revenue per customer and the latest transactions (four times
    /// as many as are shown, since kinds the dashboard does not show are left out).
    func fetchDataset(mapping: RevioMapping) async throws -> RevioDataset {
        async let revenue = get("/analytics/revenue", as: RevioRecords.Revenue.self)
        async let transactions = get(
            "/transactions?limit=\(RevioGrouping.interactionLimit * 4)",
            as: RevioRecords.List<RevioRecords.Transaction>.self
        )
        var customers: [RevioRecords.Customer] = []
        var page = 1
        while true {
            let batch = try await get("/customers?page=\(page)&per_page=\(pageSize)", as: RevioRecords.Page<RevioRecords.Customer>.self)
            customers += batch.data
            guard batch.hasMore, !batch.data.isEmpty else { break }
            page += 1
        }
        let details = try await fetchDetails(customers)
        let revenueByCustomer = Dictionary(try await revenue.customers.map { ($0.customerID, $0) }, uniquingKeysWith: { first, _ in first })
        let names = Dictionary(customers.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        reportUnknownSLATiers(details.compactMap(\.sla?.tier).filter { !mapping.slaTier($0).known })
        return RevioDataset(
            customers: details.map { RevioGrouping.customer($0, revenue: revenueByCustomer[$0.customer.id], mapping: mapping) },
            interactions: RevioGrouping.recentInteractions(try await transactions.data, names: names)
        )
    }

    /// Tickets, subscription and SLA of each customer, at most `concurrency` customers at a time, in input order.
    func fetchDetails(_ customers: [RevioRecords.Customer]) async throws -> [RevioRecords.CustomerDetail] {
        try await withThrowingTaskGroup(of: (Int, RevioRecords.CustomerDetail).self) { group in
            var pending = customers.enumerated().makeIterator()
            func startNext() {
                guard let (index, customer) = pending.next() else { return }
                group.addTask {
                    let id = customer.id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? customer.id
                    async let tickets = optional("/customers/\(id)/tickets", as: RevioRecords.List<RevioRecords.Ticket>.self)
                    async let subscription = optional("/customers/\(id)/subscription", as: RevioRecords.Subscription.self)
                    async let sla = optional("/customers/\(id)/sla", as: RevioRecords.SLA.self)
                    let detail = RevioRecords.CustomerDetail(
                        customer: customer,
                        tickets: try await tickets?.data ?? [],
                        subscription: try await subscription,
                        sla: try await sla
                    )
                    return (index, detail)
                }
            }
            for _ in 0..<max(concurrency, 1) { startNext() }
            var details = [RevioRecords.CustomerDetail?](repeating: nil, count: customers.count)
            while let (index, detail) = try await group.next() {
                details[index] = detail
                startNext()
            }
            return details.compactMap { $0 }
        }
    }
}

/// Names seen before, across copies of the client that shares it.
final class ReportedNames: Sendable {
    private let seen = Mutex<Set<String>>([])

    /// The names never seen before, now remembered.
    func firstSightings(_ names: [String]) -> Set<String> {
        seen.withLock { seen in
            let new = Set(names).subtracting(seen)
            seen.formUnion(new)
            return new
        }
    }
}
