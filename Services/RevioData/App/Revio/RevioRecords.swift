/// Revio's API records, as its endpoints send them. Unknown fields are ignored.
public enum RevioRecords {
    public struct Page<Item: Codable & Sendable>: Codable, Sendable {
        public var data: [Item]
        public var page: Int
        public var perPage: Int
        public var total: Int
        public var hasMore: Bool

        public init(data: [Item], page: Int, perPage: Int, total: Int, hasMore: Bool) {
            self.data = data
            self.page = page
            self.perPage = perPage
            self.total = total
            self.hasMore = hasMore
        }

        enum CodingKeys: String, CodingKey {
            case data, page, total
            case perPage = "per_page"
            case hasMore = "has_more"
        }
    }

    public struct List<Item: Codable & Sendable>: Codable, Sendable {
        public var data: [Item]
        public init(data: [Item]) { self.data = data }
    }

    public struct Customer: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        public var email: String?
        public var company: String?
        public var status: String?
        public var createdAt: String?

        public init(id: String, name: String, email: String?, company: String?, status: String?, createdAt: String?) {
            self.id = id
            self.name = name
            self.email = email
            self.company = company
            self.status = status
            self.createdAt = createdAt
        }

        enum CodingKeys: String, CodingKey {
            case id, name, email, company, status
            case createdAt = "created_at"
        }
    }

    public struct Ticket: Codable, Sendable, Equatable {
        public var id: String
        public var status: String
        public var subject: String?

        public init(id: String, status: String, subject: String?) {
            self.id = id
            self.status = status
            self.subject = subject
        }
    }

    public struct Subscription: Codable, Sendable, Equatable {
        public var status: String
        public var plan: String?

        public init(status: String, plan: String?) {
            self.status = status
            self.plan = plan
        }
    }

    public struct SLA: Codable, Sendable, Equatable {
        public var tier: String
        public init(tier: String) { self.tier = tier }
    }

    public struct Transaction: Codable, Sendable, Equatable {
        public var id: String
        public var customerID: String
        public var type: String
        public var amountCents: Int64
        public var currency: String
        public var createdAt: String
        public var description: String?

        public init(id: String, customerID: String, type: String, amountCents: Int64, currency: String, createdAt: String, description: String?) {
            self.id = id
            self.customerID = customerID
            self.type = type
            self.amountCents = amountCents
            self.currency = currency
            self.createdAt = createdAt
            self.description = description
        }

        enum CodingKeys: String, CodingKey {
            case id, type, currency, description
            case customerID = "customer_id"
            case amountCents = "amount_cents"
            case createdAt = "created_at"
        }
    }

    public struct CustomerRevenue: Codable, Sendable, Equatable {
        public var customerID: String
        public var monthlyRevenueCents: Int64
        public var totalRevenueCents: Int64
        public var currency: String

        public init(customerID: String, monthlyRevenueCents: Int64, totalRevenueCents: Int64, currency: String) {
            self.customerID = customerID
            self.monthlyRevenueCents = monthlyRevenueCents
            self.totalRevenueCents = totalRevenueCents
            self.currency = currency
        }

        enum CodingKeys: String, CodingKey {
            case currency
            case customerID = "customer_id"
            case monthlyRevenueCents = "monthly_revenue_cents"
            case totalRevenueCents = "total_revenue_cents"
        }
    }

    public struct Revenue: Codable, Sendable {
        public var customers: [CustomerRevenue]
        public init(customers: [CustomerRevenue]) { self.customers = customers }
    }

    /// Everything fetched for one customer.
    public struct CustomerDetail: Sendable, Equatable {
        public var customer: Customer
        public var tickets: [Ticket]
        public var subscription: Subscription?
        public var sla: SLA?

        public init(customer: Customer, tickets: [Ticket], subscription: Subscription?, sla: SLA?) {
            self.customer = customer
            self.tickets = tickets
            self.subscription = subscription
            self.sla = sla
        }
    }
}
