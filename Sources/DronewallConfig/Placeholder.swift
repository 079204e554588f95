import NetAddress
