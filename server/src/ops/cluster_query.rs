//! ECS's cluster query language (`kubecs_api_models::cluster_query`), with its parse
//! errors answered as ECS does: InvalidParameterException naming the parameter.

pub use kubecs_api_models::cluster_query::{Expr, Subject};

use crate::error::ApiError;

/// Parses `text`; `what` names the parameter in the error ("filter", "expression").
pub fn parse(text: &str, what: &str) -> Result<Expr, ApiError> {
    kubecs_api_models::cluster_query::parse(text).map_err(|why| {
        ApiError::invalid_parameter(format!("The {what} '{text}' is not valid: {why}."))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_expression_is_an_invalid_parameter_naming_it() {
        let error = parse("color == red", "filter").unwrap_err();
        assert_eq!(
            error.code,
            kubecs_api_models::ErrorCode::InvalidParameterException
        );
        assert_eq!(
            error.message,
            "The filter 'color == red' is not valid: unknown subject color."
        );
    }
}
