"""The wire-level building blocks that probes are made of: name resolution with its own timing
(``resolve``), the timed TCP connect and the deadline wait (``tcpconnect``), the TLS handshake
(``tlsconn``) and STARTTLS (``starttls``), certificates and their verdict (``certs``), a
validated DNS exchange (``dnsquery``), HTTP/1.1 and HTTP/2 exchanges (``httpclient``), ICMP
sockets (``icmp``) and the kernel's socket table (``sockdiag``). They know the network, never
the terminal; each returns typed results (``netdiag.results``)."""
