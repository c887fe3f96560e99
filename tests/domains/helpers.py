def register(client, name: str = "example.com") -> dict:
    response = client.post("/api/v1/domains", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()


def by_kind(domain: dict) -> dict[str, dict]:
    return {record["kind"]: record for record in domain["records"]}


def publish(dns_server, record: dict) -> None:
    value = f"{record['priority']} {record['value']}" if record["type"] == "MX" else record["value"]
    dns_server.publish(record["name"], record["type"], value)


def verify(client, domain: dict) -> dict:
    response = client.post(f"/api/v1/domains/{domain['id']}/verify")
    assert response.status_code == 200, response.text
    return response.json()


def verified_domain(client, dns_server, name: str = "example.com") -> dict:
    """A domain registered, its DKIM and SPF records published, and verified, as its owner would."""
    domain = register(client, name)
    records = by_kind(domain)
    publish(dns_server, records["dkim"])
    publish(dns_server, records["spf"])
    checked = verify(client, domain)
    assert checked["verified"] is True
    return checked
