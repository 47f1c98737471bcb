"""Fixed facts of what the components build that Pulumi-free code must know too.

The config checks and `recstack cost` cannot import a component (components import
pulumi_aws), so the numbers both sides need live here and the components import them.
"""

from __future__ import annotations

# network.py cuts the VPC into 8 equal blocks: one private and one public per AZ.
MAX_AZS = 4
# serving_fleet.py's target groups are auto-named within 32 characters (name, '-', 7 random
# characters), and the longest is "<prefix>-http"/"<prefix>-grpc": the prefix gets 17.
MAX_PREFIX = 17
# network.py's interface endpoints for SSM Session Manager (hosts have no SSH and no public
# address); the cost estimate prices one per service and AZ.
SSM_ENDPOINT_SERVICES = ("ssm", "ssmmessages", "ec2messages")
