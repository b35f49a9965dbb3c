//! Account settings: PutAccountSetting, PutAccountSettingDefault, DeleteAccountSetting and
//! ListAccountSettings, per region as in ECS. A principal's own setting wins over the
//! account's default (the root user's setting), which wins over AWS's default.
//!
//! Effects on kubecs: `containerInsights` is the default of a new cluster's
//! `containerInsights` setting. The long ARN formats are always on (kubecs writes only
//! long ARNs), so they cannot be disabled. The others are kept and shown; their subjects
//! (Fargate, ENI trunking, GuardDuty, log drivers) have no counterpart on Kubernetes.

use kubecs_api_models::{
    arn::partition, DeleteAccountSettingRequest, DeleteAccountSettingResponse,
    ListAccountSettingsRequest, ListAccountSettingsResponse, Operation,
    PutAccountSettingDefaultRequest, PutAccountSettingDefaultResponse, PutAccountSettingRequest,
    PutAccountSettingResponse, Setting, SettingName, SettingType,
};
use kubecs_storage::{KeyPrefix, Order, Write};

use crate::context::Ctx;
use crate::error::ApiError;
use crate::ops::paging;

pub const OPERATIONS: &[Operation] = &[
    Operation::PutAccountSetting,
    Operation::PutAccountSettingDefault,
    Operation::DeleteAccountSetting,
    Operation::ListAccountSettings,
];

pub fn note(operation: Operation) -> Option<&'static str> {
    Some(match operation {
        Operation::PutAccountSetting => "For the caller or `principalArn`, with ECS's names and values. `containerInsights` becomes the default of new clusters; the long ARN formats cannot be disabled (kubecs writes only long ARNs); the other settings are kept and shown, with nothing to act on in Kubernetes.",
        Operation::PutAccountSettingDefault => "The account's default (the root user's setting), as PutAccountSetting.",
        Operation::DeleteAccountSetting => "Removes the principal's own setting: the account default, else AWS's, applies again.",
        Operation::ListAccountSettings => "The principal's settings, or with `effectiveSettings` every setting as it applies (own, account default, else AWS's default as `aws_managed`); `name`/`value` filters; paginated (at most 10).",
        _ => return None,
    })
}

/// ECS: ListAccountSettings pages hold 1 to 10 settings, 10 by default.
const MAX_PAGE: i32 = 10;
const LIST_KIND: &str = "ListAccountSettings";

/// AWS's default value of each setting, for an account that set nothing.
fn aws_default(name: &SettingName) -> &'static str {
    match name {
        SettingName::ServiceLongArnFormat
        | SettingName::TaskLongArnFormat
        | SettingName::ContainerInstanceLongArnFormat => "enabled",
        SettingName::TagResourceAuthorization => "on",
        SettingName::FargateTaskRetirementWaitPeriod => "7",
        SettingName::DefaultLogDriverMode => "non-blocking",
        SettingName::GuardDutyActivate => "off",
        _ => "disabled",
    }
}

/// The values ECS accepts for each setting.
fn allowed(name: &SettingName) -> &'static [&'static str] {
    match name {
        SettingName::ContainerInsights => &["enabled", "disabled", "enhanced"],
        SettingName::FargateTaskRetirementWaitPeriod => &["0", "7", "14"],
        SettingName::DefaultLogDriverMode => &["blocking", "non-blocking"],
        SettingName::TagResourceAuthorization | SettingName::GuardDutyActivate => &["on", "off"],
        // The long ARN formats are on for good.
        SettingName::ServiceLongArnFormat
        | SettingName::TaskLongArnFormat
        | SettingName::ContainerInstanceLongArnFormat => &["enabled"],
        _ => &["enabled", "disabled"],
    }
}

/// The account's root user: whose settings are the account's defaults.
fn root(ctx: &Ctx) -> String {
    format!(
        "arn:{}:iam::{}:root",
        partition(&ctx.region),
        ctx.caller.account_id
    )
}

/// The principal a request names, else the caller.
fn principal(ctx: &Ctx, principal_arn: Option<&str>) -> Result<String, ApiError> {
    match principal_arn.filter(|p| !p.is_empty()) {
        None => Ok(ctx.caller.principal_arn.clone()),
        Some(arn) => {
            let iam = arn
                .strip_prefix("arn:")
                .and_then(|rest| rest.split_once(":iam::"))
                .and_then(|(_, rest)| rest.split_once(':'));
            match iam {
                Some((_, resource))
                    if resource == "root"
                        || resource.starts_with("user/")
                        || resource.starts_with("role/") =>
                {
                    Ok(arn.to_owned())
                }
                _ => Err(ApiError::invalid_parameter(format!(
                    "principalArn {arn} is not the ARN of an IAM user, role or root user."
                ))),
            }
        }
    }
}

fn required_name(name: Option<&SettingName>) -> Result<&SettingName, ApiError> {
    match name {
        Some(SettingName::Unrecognized(other)) => Err(ApiError::invalid_parameter(format!(
            "{other} is not a valid account setting name."
        ))),
        Some(name) => Ok(name),
        None => Err(ApiError::invalid_parameter("name must be specified.")),
    }
}

fn check_value(name: &SettingName, value: Option<&str>) -> Result<String, ApiError> {
    if *name == SettingName::GuardDutyActivate {
        return Err(ApiError::invalid_parameter(
            "guardDutyActivate is read-only: it is set by the account's security administrator.",
        ));
    }
    let value = value.unwrap_or_default();
    let values = allowed(name);
    if values.contains(&value) {
        return Ok(value.to_owned());
    }
    Err(ApiError::invalid_parameter(format!(
        "{value} is not a valid value for {}: use {}.",
        name.as_str(),
        values.join(" or ")
    )))
}

fn setting(name: &SettingName, value: &str, principal: &str, kind: SettingType) -> Setting {
    Setting {
        name: Some(name.clone()),
        value: Some(value.to_owned()),
        principal_arn: Some(principal.to_owned()),
        r#type: Some(kind),
    }
}

/// Stores `principal`'s setting and answers it.
async fn put(
    ctx: &Ctx,
    principal: String,
    name: Option<&SettingName>,
    value: Option<&str>,
) -> Result<Setting, ApiError> {
    let name = required_name(name)?;
    let value = check_value(name, value)?;
    let stored = setting(name, &value, &principal, SettingType::User);
    let key = (principal, name.as_str().to_owned());
    let written = stored.clone();
    ctx.store
        .settings()
        .update(key, move |_| {
            Ok::<_, ApiError>((Write::Put(written.clone()), ()))
        })
        .await?;
    Ok(stored)
}

pub async fn put_setting(
    ctx: Ctx,
    input: PutAccountSettingRequest,
) -> Result<PutAccountSettingResponse, ApiError> {
    let principal = principal(&ctx, input.principal_arn.as_deref())?;
    let setting = put(&ctx, principal, input.name.as_ref(), input.value.as_deref()).await?;
    Ok(PutAccountSettingResponse {
        setting: Some(setting),
    })
}

pub async fn put_default(
    ctx: Ctx,
    input: PutAccountSettingDefaultRequest,
) -> Result<PutAccountSettingDefaultResponse, ApiError> {
    let setting = put(
        &ctx,
        root(&ctx),
        input.name.as_ref(),
        input.value.as_deref(),
    )
    .await?;
    Ok(PutAccountSettingDefaultResponse {
        setting: Some(setting),
    })
}

pub async fn delete(
    ctx: Ctx,
    input: DeleteAccountSettingRequest,
) -> Result<DeleteAccountSettingResponse, ApiError> {
    let principal = principal(&ctx, input.principal_arn.as_deref())?;
    let name = required_name(input.name.as_ref())?.clone();
    let key = (principal.clone(), name.as_str().to_owned());
    let removed = ctx
        .store
        .settings()
        .update(key, |current| {
            Ok::<_, ApiError>((Write::Delete, current.map(|c| c.value.clone())))
        })
        .await?;
    // ECS answers with the setting that was removed; when there was none, with what
    // applies to the principal now.
    let setting = match removed {
        Some(setting) => setting,
        None => effective(&ctx, &principal, &name)?,
    };
    Ok(DeleteAccountSettingResponse {
        setting: Some(setting),
    })
}

/// The setting as it applies to `principal`: its own, the account's default, else AWS's.
pub fn effective(ctx: &Ctx, principal: &str, name: &SettingName) -> Result<Setting, ApiError> {
    let table = ctx.store.settings();
    let root = root(ctx);
    for owner in [principal, root.as_str()] {
        if let Some(record) = table.get((owner, name.as_str()))? {
            return Ok(record.value);
        }
    }
    Ok(setting(
        name,
        aws_default(name),
        &root,
        SettingType::AwsManaged,
    ))
}

pub async fn list(
    ctx: Ctx,
    input: ListAccountSettingsRequest,
) -> Result<ListAccountSettingsResponse, ApiError> {
    if input.value.is_some() && input.name.is_none() {
        return Err(ApiError::invalid_parameter(
            "name must be specified with value.",
        ));
    }
    let principal = principal(&ctx, input.principal_arn.as_deref())?;
    let name = input
        .name
        .as_ref()
        .map(|n| required_name(Some(n)))
        .transpose()?;
    let wanted = |s: &Setting| {
        name.is_none_or(|n| s.name.as_ref() == Some(n))
            && input
                .value
                .as_ref()
                .is_none_or(|v| s.value.as_ref() == Some(v))
    };
    let settings: Vec<Setting> = if input.effective_settings.unwrap_or(false) {
        let mut all = Vec::new();
        for name in SettingName::VALUES {
            all.push(effective(&ctx, &principal, &SettingName::from_wire(name))?);
        }
        all
    } else {
        ctx.store
            .settings()
            .page_where(
                &KeyPrefix::first(&principal),
                None,
                usize::MAX,
                Order::Ascending,
                |_, _| true,
            )?
            .items
            .into_iter()
            .map(|(_, r)| r.value)
            .collect()
    };
    let mut settings: Vec<Setting> = settings.into_iter().filter(wanted).collect();
    settings.sort_by(|a, b| name_of(a).cmp(name_of(b)));
    let (page, next_token) = paging::page(
        settings,
        |s| name_of(s).to_owned(),
        input.max_results,
        input.next_token.as_deref(),
        MAX_PAGE,
        LIST_KIND,
    )?;
    Ok(ListAccountSettingsResponse {
        settings: Some(page),
        next_token,
    })
}

fn name_of(setting: &Setting) -> &str {
    setting.name.as_ref().map_or("", SettingName::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_has_a_default_ecs_accepts() {
        for name in SettingName::VALUES {
            let name = SettingName::from_wire(name);
            assert!(
                allowed(&name).contains(&aws_default(&name))
                    || name == SettingName::GuardDutyActivate,
                "{}",
                name.as_str()
            );
        }
    }
}
