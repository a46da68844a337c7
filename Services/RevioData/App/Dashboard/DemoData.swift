import Foundation
import ServiceKit

/// The demo data set served without `REVIO_API_KEY`: the same records every time, through the same grouping.
enum DemoData {
    static func dataset(customers count: Int = 120, mapping: RevioMapping) -> RevioDataset {
        var random = SeededRandom(seed: 20_240_601)
        let firstNames = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne", "Wonka", "Tyrell", "Cyberdyne", "Soylent"]
        let suffixes = ["Labs", "Systems", "Industries", "Partners", "Group", "Networks", "Health", "Logistics"]
        let ticketStatuses = ["open", "pending", "resolved", "closed"]
        let slaTiers = ["platinum", "gold", "silver", "bronze", "standard"]
        let subscriptionStates = ["active", "active", "active", "trialing", "canceled"]
        var names: [String: String] = [:]
        var details: [(RevioRecords.CustomerDetail, RevioRecords.CustomerRevenue)] = []
        for index in 0..<count {
            let id = "demo_cus_\(index + 1)"
            let name = "\(firstNames[random.next(firstNames.count)]) \(suffixes[random.next(suffixes.count)]) \(index + 1)"
            names[id] = name
            let tickets = (0..<random.next(4)).map { RevioRecords.Ticket(id: "\(id)_t\($0)", status: ticketStatuses[random.next(4)], subject: nil) }
            let monthly = Int64([12_000, 45_000, 150_000, 320_000, 750_000][random.next(5)])
            details.append(
                (
                    RevioRecords.CustomerDetail(
                        customer: .init(
                            id: id,
                            name: name,
                            email: "billing@customer\(index + 1).example",
                            company: name,
                            status: "active",
                            createdAt: "2025-0\(1 + random.next(9))-1\(random.next(10))T09:00:00Z"
                        ),
                        tickets: tickets,
                        subscription: .init(
                            status: subscriptionStates[random.next(subscriptionStates.count)],
                            plan: monthly >= 150_000 ? "business" : "starter"
                        ),
                        sla: .init(tier: slaTiers[random.next(slaTiers.count)])
                    ),
                    RevioRecords.CustomerRevenue(
                        customerID: id,
                        monthlyRevenueCents: monthly,
                        totalRevenueCents: monthly * Int64(1 + random.next(24)),
                        currency: "usd"
                    )
                )
            )
        }
        let types = ["payment", "invoice", "refund", "support_call", "plan_change"]
        let transactions = (0..<80).map { index in
            RevioRecords.Transaction(
                id: "demo_txn_\(index)",
                customerID: "demo_cus_\(1 + random.next(count))",
                type: types[random.next(types.count)],
                amountCents: Int64(1_000 * (1 + random.next(500))),
                currency: "usd",
                createdAt: "2026-11-\(String(format: "%02d", 1 + index % 20))T\(String(format: "%02d", index % 24)):00:00Z",
                description: "Demo interaction \(index)"
            )
        }
        return RevioDataset(
            customers: details.map { RevioGrouping.customer($0.0, revenue: $0.1, mapping: mapping) },
            interactions: RevioGrouping.recentInteractions(transactions, names: names)
        )
    }
}
