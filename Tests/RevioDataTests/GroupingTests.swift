import Foundation
import Testing

@testable import RevioData

@Suite struct GroupingTests {
    typealias Ticket = RevioRecords.Ticket

    static func customer(status: String? = "active") -> RevioRecords.Customer {
        .init(id: "c1", name: "Ada", email: nil, company: nil, status: status, createdAt: nil)
    }

    @Test func aCustomersTicketStatusIsItsMostPressingTicketInTheSeedsThreeWords() {
        #expect(
            RevioMapping.ticketStatus([Ticket(id: "1", status: "resolved", subject: nil), Ticket(id: "2", status: "open", subject: nil)]) == "open"
        )
        #expect(
            RevioMapping.ticketStatus([Ticket(id: "1", status: "closed", subject: nil), Ticket(id: "2", status: "pending", subject: nil)])
                == "in_progress"
        )
        #expect(RevioMapping.ticketStatus([Ticket(id: "1", status: "On_Hold", subject: nil)]) == "in_progress")
        #expect(RevioMapping.ticketStatus([Ticket(id: "1", status: "closed", subject: nil)]) == "resolved")
        #expect(RevioMapping.ticketStatus([Ticket(id: "1", status: "escalated", subject: nil)]) == "open", "an unknown status is looked at")
        #expect(RevioMapping.ticketStatus([]) == nil, "no tickets, no group")
    }

    @Test func revenueTiersUseTheThresholdsAndTheSeedsWords() {
        let thresholds = RevenueTierThresholds()
        #expect(thresholds.tier(monthlyRevenueCents: 500_000) == "enterprise")
        #expect(thresholds.tier(monthlyRevenueCents: 499_999) == "mid_market")
        #expect(thresholds.tier(monthlyRevenueCents: 100_000) == "mid_market")
        #expect(thresholds.tier(monthlyRevenueCents: 99_999) == "smb")
        #expect(RevenueTierThresholds(enterpriseCents: 10_000, midMarketCents: 1_000).tier(monthlyRevenueCents: 10_000) == "enterprise")
    }

    @Test func subscriptionStatesFoldIntoActiveTrialChurned() {
        #expect(RevioMapping.status(subscription: .init(status: "past_due", plan: nil), customer: Self.customer()) == "active")
        #expect(RevioMapping.status(subscription: .init(status: "trialing", plan: nil), customer: Self.customer()) == "trial")
        #expect(RevioMapping.status(subscription: .init(status: "canceled", plan: nil), customer: Self.customer()) == "churned")
        #expect(RevioMapping.status(subscription: .init(status: "paused", plan: nil), customer: Self.customer()) == "churned")
        #expect(RevioMapping.status(subscription: nil, customer: Self.customer()) == "active", "without a subscription, the customer's own status")
        #expect(RevioMapping.status(subscription: nil, customer: Self.customer(status: "inactive")) == "churned")
        #expect(RevioMapping.status(subscription: nil, customer: Self.customer(status: nil)) == "churned")
    }

    @Test func slaNamesMapIntoTheSeedsFourTiersAndTheTableCanBeExtended() throws {
        let mapping = RevioMapping()
        #expect(mapping.slaTier("Gold") == ("gold", true))
        #expect(mapping.slaTier("standard") == ("silver", true))
        #expect(mapping.slaTier(nil) == ("bronze", true))
        #expect(mapping.slaTier("diamond") == ("bronze", false), "unknown: bronze, and reported")
        let configured = RevioMapping(slaTiers: try RevioSettings.slaTiers("Diamond=platinum, standard=bronze"))
        #expect(configured.slaTier("diamond") == ("platinum", true))
        #expect(configured.slaTier("standard") == ("bronze", true))
        #expect(throws: (any Error).self) { try RevioSettings.slaTiers("diamond=emerald") }
    }

    @Test func transactionsBecomeTheSeedsFourInteractionsAndOthersAreLeftOut() {
        func transaction(_ type: String, _ cents: Int64 = 1_000) -> RevioRecords.Transaction {
            .init(id: type, customerID: "c1", type: type, amountCents: cents, currency: "usd", createdAt: "2026-01-01T00:00:00Z", description: nil)
        }
        #expect(RevioMapping.interactionType(transaction("payment")) == "payment_received")
        #expect(RevioMapping.interactionType(transaction("support_call")) == "ticket_created")
        #expect(RevioMapping.interactionType(transaction("plan_change", 2_000)) == "subscription_upgraded")
        #expect(RevioMapping.interactionType(transaction("plan_change", -2_000)) == "subscription_downgraded")
        #expect(RevioMapping.interactionType(transaction("refund")) == nil)
        #expect(RevioMapping.interactionType(transaction("invoice")) == nil)
        let recent = RevioGrouping.recentInteractions([transaction("refund"), transaction("support_call")], names: ["c1": "Ada"])
        #expect(recent.map(\.interactionType) == ["ticket_created"])
        #expect(recent.first?.amountCents == nil, "a ticket carries no amount")
    }

    @Test func recentInteractionsAreTheFiftyNewestNewestFirst() {
        let transactions = (0..<70).map {
            RevioRecords.Transaction(
                id: "t\($0)",
                customerID: "c1",
                type: "payment",
                amountCents: Int64($0),
                currency: "usd",
                createdAt: String(format: "2026-01-01T00:%02d:00Z", $0),
                description: nil
            )
        }
        let recent = RevioGrouping.recentInteractions(transactions.shuffled(), names: ["c1": "Ada"])
        #expect(recent.count == 50)
        #expect(recent.first?.amountCents == 69)
        #expect(recent.last?.amountCents == 20)
        #expect(recent.allSatisfy { $0.customerName == "Ada" })
    }

    @Test func everySeedGroupIsPresentInOrderAndPagedWithTotals() {
        let fetched = FetchedDataset(dataset: DemoData.dataset(customers: 30, mapping: .init()), fetchedAt: Date(), source: "demo", stale: false)
        let response = DashboardResponse.build(fetched, dataType: .customersByTicket, page: 2, perPage: 3, currency: "usd")
        let groups = response.data.customersByTicket
        #expect(groups.map(\.status) == ["open", "in_progress", "resolved"])
        #expect(groups.map(\.count).reduce(0, +) == fetched.dataset.customers.filter { $0.ticketStatus != nil }.count)
        #expect(groups.allSatisfy { $0.customers.count == min(3, max($0.count - 3, 0)) })
        #expect(response.data.customersBySLA.isEmpty)
        #expect(response.data.subscriptions == RevioGrouping.SubscriptionCounts(), "zeros, never null")
        let sla = DashboardResponse.build(fetched, dataType: .customersBySLA, page: 1, perPage: 50, currency: "usd").data.customersBySLA
        #expect(sla.map(\.slaTier) == ["platinum", "gold", "silver", "bronze"])
        #expect(sla.map(\.count).reduce(0, +) == 30)
    }

    @Test func aRevenueGroupAddsOnlyTheReportingCurrency() {
        func customer(_ id: String, _ cents: Int64, _ currency: String) -> RevioCustomer {
            RevioCustomer(
                id: id,
                name: id,
                email: "",
                company: nil,
                subscriptionTier: nil,
                monthlyRevenueCents: cents,
                totalRevenueCents: cents,
                currency: currency,
                slaTier: "gold",
                status: "active",
                ticketStatus: nil,
                openTickets: 0,
                revenueTier: "smb",
                createdAt: nil
            )
        }
        let dataset = RevioDataset(
            customers: [customer("a", 1_050, "usd"), customer("b", 2_025, "usd"), customer("c", 9_999, "eur")],
            interactions: []
        )
        let fetched = FetchedDataset(dataset: dataset, fetchedAt: Date(), source: "demo", stale: false)
        let smb = DashboardResponse.build(fetched, dataType: .customersByRevenue, page: 1, perPage: 50, currency: "usd").data.customersByRevenue[2]
        #expect(smb.count == 3)
        #expect(smb.totalRevenueCents == 3_075)
        #expect(smb.totalRevenue == Decimal(string: "30.75"))
    }

    @Test func theDemoDataIsTheSameEveryTime() {
        #expect(DemoData.dataset(mapping: .init()) == DemoData.dataset(mapping: .init()))
    }
}
