//! Amazon ECS wire types, generated from the ECS service model that botocore ships.
