//! Pages of listings kept whole in memory (account settings, capacity providers): the
//! same `maxResults` bounds and opaque `nextToken`s as the store's listings, resuming
//! strictly after the last key returned.

use kubecs_storage::PageToken;

use crate::error::ApiError;

/// The page of `items` (sorted by `key`) after the client's `next_token`, at most
/// `max_results` long (`max_page` by default and at most), and the token of the next.
pub fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    max_results: Option<i32>,
    next_token: Option<&str>,
    max_page: i32,
    kind: &str,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let limit = max_results.unwrap_or(max_page);
    if !(1..=max_page).contains(&limit) {
        return Err(ApiError::invalid_parameter(format!(
            "maxResults must be between 1 and {max_page}."
        )));
    }
    let after = next_token
        .map(|t| PageToken::parse(kind, t))
        .transpose()?
        .map(|t| t.last_key().to_vec());
    let mut page: Vec<T> = items
        .into_iter()
        .filter(|item| after.as_deref().is_none_or(|a| key(item).as_bytes() > a))
        .take(limit as usize + 1)
        .collect();
    let next = (page.len() > limit as usize).then(|| {
        page.truncate(limit as usize);
        let last = page.last().map(&key).unwrap_or_default();
        PageToken::after(last.into_bytes()).encode(kind)
    });
    Ok((page, next))
}
