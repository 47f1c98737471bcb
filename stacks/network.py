"""The VPC: private subnets for every host, public subnets only for NAT (and an
internet-facing load balancer when one is enabled), and the VPC endpoints that let
private hosts reach S3 and SSM Session Manager without the internet."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from stack_config.layout import MAX_AZS, SSM_ENDPOINT_SERVICES


@dataclass
class NetworkArgs:
    cidr: str
    availability_zones: int
    # StackConfig.nat_gateways: one per AZ, or one that every AZ leaves through.
    nat_gateways: int
    region: str
    tags: dict[str, str]


def subnet_blocks(cidr: str) -> tuple[list[str], list[str]]:
    """(private, public) blocks: the VPC cut into 8 equal parts, private ones first."""
    vpc = ipaddress.IPv4Network(cidr)
    blocks = [str(b) for b in vpc.subnets(new_prefix=vpc.prefixlen + 3)]
    return blocks[:MAX_AZS], blocks[MAX_AZS:]


class Network(pulumi.ComponentResource):
    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("recstack:aws:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        def tags(suffix: str) -> dict[str, str]:
            return {**args.tags, "Name": f"{name}-{suffix}"}

        # Regular AZs only: opted-in Local and Wavelength Zones lack most services.
        zones = aws.get_availability_zones_output(
            state="available",
            filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        chosen = zones.apply(
            lambda z: _first_zones(z.names, z.zone_ids, args.availability_zones, args.region)
        )
        zone_names = chosen.apply(lambda c: c[0])
        self.zone_ids = chosen.apply(lambda c: c[1])
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=tags("vpc"),
            opts=child,
        )
        gateway = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags=tags("igw"), opts=child
        )
        public_table = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": gateway.id}],
            tags=tags("public"),
            opts=child,
        )

        private_blocks, public_blocks = subnet_blocks(args.cidr)
        self.private_subnet_ids: list[pulumi.Output[str]] = []
        self.public_subnet_ids: list[pulumi.Output[str]] = []
        self.private_route_table_ids: list[pulumi.Output[str]] = []
        nat_gateways: list[aws.ec2.NatGateway] = []
        private_routes: list[aws.ec2.RouteTableAssociation] = []
        for az in range(args.availability_zones):
            zone = zone_names.apply(lambda names, az=az: names[az])
            public = aws.ec2.Subnet(
                f"{name}-public-{az}",
                vpc_id=vpc.id,
                cidr_block=public_blocks[az],
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags=tags(f"public-{az}"),
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{az}",
                subnet_id=public.id,
                route_table_id=public_table.id,
                opts=child,
            )
            self.public_subnet_ids.append(public.id)
            if az < args.nat_gateways:
                address = aws.ec2.Eip(
                    f"{name}-nat-{az}", domain="vpc", tags=tags(f"nat-{az}"), opts=child
                )
                nat_gateways.append(
                    aws.ec2.NatGateway(
                        f"{name}-nat-{az}",
                        allocation_id=address.id,
                        subnet_id=public.id,
                        tags=tags(f"nat-{az}"),
                        opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
                    )
                )
            private = aws.ec2.Subnet(
                f"{name}-private-{az}",
                vpc_id=vpc.id,
                cidr_block=private_blocks[az],
                availability_zone=zone,
                tags=tags(f"private-{az}"),
                opts=child,
            )
            # Each AZ leaves through its own NAT gateway when there is one per AZ, else
            # through the first AZ's.
            nat = nat_gateways[az % args.nat_gateways]
            table = aws.ec2.RouteTable(
                f"{name}-private-{az}",
                vpc_id=vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}],
                tags=tags(f"private-{az}"),
                opts=child,
            )
            private_routes.append(
                aws.ec2.RouteTableAssociation(
                    f"{name}-private-{az}",
                    subnet_id=private.id,
                    route_table_id=table.id,
                    opts=child,
                )
            )
            self.private_subnet_ids.append(private.id)
            self.private_route_table_ids.append(table.id)

        s3_endpoint = aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=self.private_route_table_ids,
            tags=tags("s3"),
            opts=child,
        )
        endpoint_group = aws.ec2.SecurityGroup(
            f"{name}-endpoints",
            vpc_id=vpc.id,
            description="HTTPS from inside the VPC to the SSM interface endpoints",
            tags=tags("endpoints"),
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-endpoints-https",
            security_group_id=endpoint_group.id,
            cidr_ipv4=args.cidr,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description="HTTPS from the VPC",
            tags=tags("endpoints-https"),
            opts=child,
        )
        for service in SSM_ENDPOINT_SERVICES:
            aws.ec2.VpcEndpoint(
                f"{name}-{service}",
                vpc_id=vpc.id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=self.private_subnet_ids,
                security_group_ids=[endpoint_group.id],
                tags=tags(service),
                opts=child,
            )

        self.vpc_id = vpc.id
        # What a host's first boot needs to reach package and agent downloads.
        self.egress_ready: list[pulumi.Resource] = [*nat_gateways, *private_routes, s3_endpoint]
        self.register_outputs(
            {
                "vpc_id": vpc.id,
                "private_subnet_ids": self.private_subnet_ids,
                "public_subnet_ids": self.public_subnet_ids,
            }
        )


def _first_zones(
    names: list[str], zone_ids: list[str], count: int, region: str
) -> tuple[list[str], list[str]]:
    if len(names) < count:
        raise ValueError(
            f"{region} has {len(names)} usable availability zones; set "
            f"recstack:network.availabilityZones to {len(names)} or fewer"
        )
    return names[:count], zone_ids[:count]
