//! IPv4 CIDR blocks: parsing, the rules a spec must follow, and the subnet plan of a VPC.

use std::fmt;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Cidr {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Cidr {
    /// Parses `a.b.c.d/n`; the error is the rule that was broken.
    pub fn parse(text: &str) -> Result<Self, String> {
        let rule = || "must be an IPv4 CIDR block like 10.42.0.0/16".to_string();
        let (addr, prefix) = text.split_once('/').ok_or_else(rule)?;
        // Ipv4Addr's parser refuses short forms like `10.0.0` and leading zeros, as EC2 does.
        let addr: Ipv4Addr = addr.parse().map_err(|_| rule())?;
        if prefix.is_empty() || prefix.len() > 2 || !prefix.chars().all(|c| c.is_ascii_digit()) {
            return Err(rule());
        }
        let prefix: u8 = prefix.parse().map_err(|_| rule())?;
        if prefix > 32 {
            return Err(rule());
        }
        Ok(Self { addr, prefix })
    }

    pub fn address(&self) -> Ipv4Addr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    /// True when the host bits are zero (EC2 refuses anything else for a VPC).
    pub fn is_network_address(&self) -> bool {
        u32::from(self.addr) & !self.mask() == 0
    }

    /// True when the whole block lies inside one RFC 1918 range.
    pub fn is_private(&self) -> bool {
        let private = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];
        private
            .iter()
            .filter_map(|p| Self::parse(p).ok())
            .any(|range| range.contains(self))
    }

    /// True when `other` lies entirely inside this block.
    pub fn contains(&self, other: &Ipv4Cidr) -> bool {
        other.prefix >= self.prefix
            && (u32::from(other.addr) & self.mask()) == (u32::from(self.addr) & self.mask())
    }

    /// The public subnet of a VPC: its first block of `/min(prefix + 4, 24)`.
    ///
    /// A /16 gives a /20 (4,091 usable addresses), a /20 to /24 gives a /24 (251): always room
    /// for the 103 nodes a spec may ask for, and the rest of the VPC stays free for later subnets.
    pub fn public_subnet(&self) -> Ipv4Cidr {
        let prefix = (self.prefix + 4).min(24).max(self.prefix);
        let base = Ipv4Cidr {
            addr: self.addr,
            prefix,
        };
        Ipv4Cidr {
            addr: Ipv4Addr::from(u32::from(self.addr) & base.mask()),
            prefix,
        }
    }

    /// Every block of the public subnet's size in this VPC, lowest first: the public subnet, then
    /// the room for one more subnet per extra availability zone (none in a /24 VPC).
    pub fn subnet_blocks(&self) -> Vec<Ipv4Cidr> {
        let first = self.public_subnet();
        let count = 1u32 << (first.prefix - self.prefix).min(8);
        let step = 1u32 << (32 - u32::from(first.prefix));
        (0..count)
            .map(|k| Ipv4Cidr {
                addr: Ipv4Addr::from(u32::from(first.addr).wrapping_add(k * step)),
                prefix: first.prefix,
            })
            .collect()
    }

    /// True when the two blocks share an address.
    pub fn overlaps(&self, other: &Ipv4Cidr) -> bool {
        self.contains(other) || other.contains(self)
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Ipv4Cidr {
        Ipv4Cidr::parse(s).unwrap()
    }

    #[test]
    fn parses_and_prints() {
        assert_eq!(cidr("10.42.0.0/16").to_string(), "10.42.0.0/16");
        assert_eq!(cidr("0.0.0.0/0").prefix(), 0);
        for bad in [
            "10.42.0.0",
            "10.42.0/16",
            "10.42.0.0/33",
            "10.42.0.0/",
            "x/16",
            "10.42.0.0/+1",
            "010.1.1.1/8",
        ] {
            assert!(Ipv4Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn private_ranges() {
        assert!(cidr("10.42.0.0/16").is_private());
        assert!(cidr("172.31.0.0/16").is_private());
        assert!(!cidr("172.32.0.0/16").is_private());
        assert!(cidr("192.168.1.0/24").is_private());
        assert!(!cidr("100.64.0.0/16").is_private());
        assert!(!cidr("8.8.8.0/24").is_private());
    }

    #[test]
    fn network_address() {
        assert!(cidr("10.42.0.0/16").is_network_address());
        assert!(!cidr("10.42.1.0/16").is_network_address());
        assert!(cidr("1.2.3.4/32").is_network_address());
        assert!(cidr("0.0.0.0/0").is_network_address());
    }

    #[test]
    fn subnet_blocks_tile_the_vpc() {
        let blocks: Vec<String> = cidr("10.42.0.0/16")
            .subnet_blocks()
            .iter()
            .map(|b| b.to_string())
            .collect();
        assert_eq!(blocks.len(), 16);
        assert_eq!(blocks[0], "10.42.0.0/20");
        assert_eq!(blocks[1], "10.42.16.0/20");
        assert_eq!(blocks[15], "10.42.240.0/20");
        assert_eq!(cidr("10.1.2.0/24").subnet_blocks().len(), 1);
        assert_eq!(cidr("10.1.2.0/22").subnet_blocks().len(), 4);
        assert!(cidr("10.42.0.0/20").overlaps(&cidr("10.42.3.0/24")));
        assert!(cidr("10.42.3.0/24").overlaps(&cidr("10.42.0.0/20")));
        assert!(!cidr("10.42.0.0/20").overlaps(&cidr("10.42.16.0/20")));
    }

    #[test]
    fn subnet_plan() {
        assert_eq!(
            cidr("10.42.0.0/16").public_subnet().to_string(),
            "10.42.0.0/20"
        );
        assert_eq!(
            cidr("10.42.16.0/20").public_subnet().to_string(),
            "10.42.16.0/24"
        );
        assert_eq!(
            cidr("192.168.8.0/22").public_subnet().to_string(),
            "192.168.8.0/24"
        );
        assert_eq!(
            cidr("192.168.8.0/24").public_subnet().to_string(),
            "192.168.8.0/24"
        );
        for vpc in ["10.0.0.0/16", "172.20.0.0/19", "192.168.4.0/23"] {
            let vpc = cidr(vpc);
            assert!(vpc.contains(&vpc.public_subnet()));
        }
    }
}
