import Foundation
import ServiceKit
import Testing

@testable import RevioData

/// The response against the seed's TypeScript interfaces: every documented field, with its documented type.
@Suite struct SeedContractTests {
    enum Kind { case string, number, boolean, array, object, optionalString, optionalNumber }

    /// The seed's `RevioCustomer`, and what we add beside it.
    static let revioCustomer: [String: Kind] = [
        "id": .string, "name": .string, "email": .string, "company": .optionalString, "subscription_tier": .optionalString,
        "monthly_revenue": .number, "monthly_revenue_cents": .number, "sla_tier": .string, "status": .string,
        "ticket_status": .optionalString, "open_tickets": .number, "revenue_tier": .string, "total_revenue": .number,
        "total_revenue_cents": .number, "currency": .string, "created_at": .optionalString,
    ]

    static func check(_ value: JSONValue?, _ kind: Kind, at path: String) {
        switch (kind, value) {
        case (.string, .string?), (.optionalString, .string?), (.optionalString, .null?), (.optionalString, nil), (.number, .number?),
            (.optionalNumber, .number?), (.optionalNumber, nil),
            (.boolean, .bool?), (.array, .array?), (.object, .object?):
            return
        default:
            Issue.record("\(path) must be \(kind), is \(String(describing: value))")
        }
    }

    static func check(_ object: JSONValue, _ fields: [String: Kind], at path: String) {
        for (field, kind) in fields { check(object[field], kind, at: "\(path).\(field)") }
    }

    static func items(_ value: JSONValue?) -> [JSONValue] {
        if case .array(let items)? = value { return items }
        return []
    }

    @Test func theResponseHasEveryDocumentedField() throws {
        let fetched = FetchedDataset(dataset: DemoData.dataset(mapping: .init()), fetchedAt: Date(), source: "demo", stale: false)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let json = try JSONDecoder().decode(
            JSONValue.self,
            from: encoder.encode(DashboardResponse.build(fetched, dataType: .all, page: 1, perPage: 5, currency: "usd"))
        )
        Self.check(json, ["success": .boolean, "data": .object, "source": .string, "fetched_at": .string, "stale": .boolean], at: "response")
        let data = try #require(json["data"])
        for key in ["customers_by_ticket", "customers_by_sla", "customers_by_revenue", "recent_interactions"] {
            Self.check(data[key], .array, at: "data.\(key)")
        }
        Self.check(data["subscriptions"], .object, at: "data.subscriptions")
        Self.check(try #require(data["subscriptions"]), ["active": .number, "trial": .number, "churned": .number], at: "data.subscriptions")

        let groups: [(String, [String: Kind])] = [
            ("customers_by_ticket", ["status": .string, "count": .number, "customers": .array]),
            ("customers_by_sla", ["sla_tier": .string, "count": .number, "customers": .array]),
            (
                "customers_by_revenue",
                ["revenue_tier": .string, "count": .number, "total_revenue": .number, "total_revenue_cents": .number, "customers": .array]
            ),
        ]
        for (key, fields) in groups {
            let list = Self.items(data[key])
            #expect(!list.isEmpty)
            for (index, group) in list.enumerated() {
                Self.check(group, fields, at: "data.\(key)[\(index)]")
                for customer in Self.items(group["customers"]) { Self.check(customer, Self.revioCustomer, at: "data.\(key)[\(index)].customers[]") }
            }
        }
        let interactions = Self.items(data["recent_interactions"])
        #expect(!interactions.isEmpty)
        for interaction in interactions {
            Self.check(
                interaction,
                [
                    "customer_name": .string, "interaction_type": .string, "amount": .optionalNumber, "amount_cents": .optionalNumber,
                    "timestamp": .string, "details": .optionalString,
                ],
                at: "data.recent_interactions[]"
            )
        }
    }
}
