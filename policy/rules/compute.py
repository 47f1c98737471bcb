"""Compute rules: IMDSv2 on launch templates and instances (``imdsv2-required``) and
encrypted EBS volumes (``ebs-encrypted``). Both fail closed on unknown values."""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs

from .common import Unknown, describe_value, display_name, elements, get, require_true

# Resource type tokens (pulumi-aws v7).
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
EBS_VOLUME = "aws:ebs/volume:Volume"


def imdsv2_required(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Launch templates and instances set ``metadataOptions.httpTokens = "required"``.
    Fail closed: absent means AWS's default ``optional``; unknown cannot be proven. An
    instance must set it even when it is launched from a template."""
    if args.resource_type not in (LAUNCH_TEMPLATE, INSTANCE):
        return
    where = display_name(args.resource_type, args.name)
    fix = "metadata_options={'http_tokens': 'required'}"
    tokens = get(args.props, "metadataOptions", "httpTokens")
    if isinstance(tokens, Unknown):
        report_violation(
            f"{where}: metadataOptions.httpTokens is not known before the update, so IMDSv2 "
            f"cannot be proven. Fix: {fix} as a literal value.",
            None,
        )
    elif tokens != "required":
        report_violation(
            f"{where}: metadataOptions.httpTokens is {describe_value(tokens)} (IMDSv1 stays "
            f"reachable). Fix: {fix}.",
            None,
        )


def ebs_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Every EBS volume is encrypted: launch templates' ``blockDeviceMappings[].ebs.encrypted``
    (bool or the string "true"), instances' ``rootBlockDevice.encrypted`` and every
    ``ebsBlockDevices[].encrypted``, ``aws.ebs.Volume.encrypted``. Fail closed. A launch
    template with no EBS mapping, or an instance without ``rootBlockDevice``, violates:
    its root volume would take the AMI's settings, which need not be encrypted."""
    props, where = args.props, display_name(args.resource_type, args.name)
    if args.resource_type == LAUNCH_TEMPLATE:
        fix = "block_device_mappings[...] ebs={'encrypted': 'true', ...}"
        has_ebs = False
        for i, mapping in enumerate(elements(get(props, "blockDeviceMappings"))):
            ebs = get(mapping, "ebs")
            if ebs is None:
                continue  # instance-store or suppressed device: no EBS volume
            has_ebs = True
            label = f"blockDeviceMappings[{i}].ebs.encrypted"
            require_true(report_violation, where, label, get(ebs, "encrypted"), fix)
        if not has_ebs:
            report_violation(
                f"{where}: declares no EBS block device mapping, so the root volume takes the "
                "AMI's settings and is not proven encrypted. Fix: map the AMI's root device "
                "(and the data volume) with ebs={'encrypted': 'true', 'volume_type': 'gp3', "
                "...}.",
                None,
            )
    elif args.resource_type == INSTANCE:
        fix = "root_block_device={'encrypted': True, ...} and ebs_block_devices[...] encrypted=True"
        root = get(props, "rootBlockDevice")
        if root is None:
            report_violation(
                f"{where}: has no rootBlockDevice, so the root volume takes the AMI's settings "
                f"and is not proven encrypted. Fix: {fix}.",
                None,
            )
        else:
            label = "rootBlockDevice.encrypted"
            require_true(report_violation, where, label, get(root, "encrypted"), fix)
        for i, device in enumerate(elements(get(props, "ebsBlockDevices"))):
            label = f"ebsBlockDevices[{i}].encrypted"
            require_true(report_violation, where, label, get(device, "encrypted"), fix)
    elif args.resource_type == EBS_VOLUME:
        require_true(
            report_violation, where, "encrypted", get(props, "encrypted"), "encrypted=True"
        )
