"""A small authoritative DNS server on loopback (UDP) that answers from a dict the test fills."""

import socket
import threading

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from dns.rdtypes.ANY.TXT import TXT


class LoopbackDns:
    def __init__(self):
        self.records: dict[tuple[str, str], list[str]] = {}  # (name, type) -> values
        self.failing: set[str] = set()  # names answered with SERVFAIL
        self.answering = threading.Event()  # cleared: questions wait for their answer until it is set again
        self.answering.set()
        self.asked = threading.Event()  # set at each question
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="loopback-dns", daemon=True)

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()
        return f"{host}:{port}"

    def publish(self, name: str, rdtype: str, *values: str) -> None:
        self.records[(name.lower(), rdtype)] = list(values)

    def remove(self, name: str, rdtype: str) -> None:
        self.records.pop((name.lower(), rdtype), None)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()
        self.sock.close()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                wire, client = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            self.asked.set()
            while not self.answering.wait(0.1) and not self.stopping.is_set():
                pass
            self.sock.sendto(self._answer(dns.message.from_wire(wire)).to_wire(), client)

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        if name in self.failing:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif values := self.records.get((name, rdtype)):
            rdatas = [_rdata(rdtype, value) for value in values]
            response.answer.append(dns.rrset.from_rdata_list(question.name, 300, rdatas))
        elif not any(known == name for known, _ in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response


def _rdata(rdtype: str, value: str) -> dns.rdata.Rdata:
    if rdtype == "TXT":  # one TXT string holds at most 255 bytes: longer values are split, as DNS hosts do
        data = value.encode()
        return TXT(dns.rdataclass.IN, dns.rdatatype.TXT, [data[i : i + 255] for i in range(0, len(data), 255)])
    return dns.rdata.from_text(dns.rdataclass.IN, rdtype, value, origin=dns.name.root, relativize=False)
