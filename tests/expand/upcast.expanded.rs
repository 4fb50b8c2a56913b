// Expansion of tests/expand/upcast.rs by factum's macros. Generated: do not edit.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "Priced")]
pub struct PricedV1 {
    pub units: u64,
}
#[automatically_derived]
impl ::factum::Event for PricedV1
where
    for<'__factum> Self: ::factum::__private::EventBounds<'__factum>,
{
    const NAME: &'static str = "Priced";
    const VERSION: u32 = 1;
    fn decode(
        version: u32,
        payload: &str,
    ) -> ::core::result::Result<Self, ::factum::DecodeError> {
        if version == 1 {
            ::factum::__private::decode_payload::<Self>(version, payload)
        } else {
            ::core::result::Result::Err(
                ::factum::__private::unknown_version::<Self>(version),
            )
        }
    }
}
const _: () = ::factum::__private::assert_event_bounds::<PricedV1>();
const _: () = {
    static SHAPE: ::factum::registry::EventShape = ::factum::registry::EventShape {
        name: "Priced",
        version: 1,
        rust_type: ::core::concat!(::core::module_path!(), "::", "PricedV1"),
        upcast_from: ::core::option::Option::None,
        serde: &[],
        body: ::factum::registry::Body::Struct(
            &[
                ::factum::registry::FieldShape {
                    name: "units",
                    ty: "u64",
                    serde: &[],
                },
            ],
        ),
    };
    ::factum::__private::inventory::submit!(::factum::registry::Registered(& SHAPE));
};
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "Priced", version = 2, upcast_from = PricedV1)]
pub struct PricedV2 {
    pub cents: u64,
}
#[automatically_derived]
impl ::factum::Event for PricedV2
where
    for<'__factum> Self: ::factum::__private::EventBounds<'__factum>,
    for<'__factum> PricedV1: ::factum::__private::EventBounds<'__factum>,
{
    const NAME: &'static str = "Priced";
    const VERSION: u32 = 2;
    fn decode(
        version: u32,
        payload: &str,
    ) -> ::core::result::Result<Self, ::factum::DecodeError> {
        if version == 2 {
            ::factum::__private::decode_payload::<Self>(version, payload)
        } else if version < 2 {
            <PricedV1 as ::factum::Event>::decode(version, payload)
                .map(<Self as ::core::convert::From<PricedV1>>::from)
        } else {
            ::core::result::Result::Err(
                ::factum::__private::unknown_version::<Self>(version),
            )
        }
    }
}
const _: () = ::factum::__private::assert_event_bounds::<PricedV2>();
const _: () = {
    #[allow(unused_imports)]
    use ::factum::__private::NotAnEvent as _;
    if let ::core::option::Option::Some(__name) = ::factum::__private::EventInfo::<
        PricedV1,
    >::NAME {
        ::factum::__private::require(
            ::factum::__private::str_eq(__name, "Priced"),
            "`upcast_from = PricedV1`: an event upcasts only from an older version of itself, stored under the same name (`Priced`)",
        );
    }
    if let ::core::option::Option::Some(__version) = ::factum::__private::EventInfo::<
        PricedV1,
    >::VERSION {
        ::factum::__private::require(
            __version < 2,
            "`upcast_from = PricedV1`: the older type must have a lower `version` than 2",
        );
    }
};
const _: () = {
    static SHAPE: ::factum::registry::EventShape = ::factum::registry::EventShape {
        name: "Priced",
        version: 2,
        rust_type: ::core::concat!(::core::module_path!(), "::", "PricedV2"),
        upcast_from: ::core::option::Option::Some("PricedV1"),
        serde: &[],
        body: ::factum::registry::Body::Struct(
            &[
                ::factum::registry::FieldShape {
                    name: "cents",
                    ty: "u64",
                    serde: &[],
                },
            ],
        ),
    };
    ::factum::__private::inventory::submit!(::factum::registry::Registered(& SHAPE));
};
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "Priced", version = 3, upcast_from = PricedV2)]
pub struct Priced {
    pub cents: u64,
    pub currency: String,
}
#[automatically_derived]
impl ::factum::Event for Priced
where
    for<'__factum> Self: ::factum::__private::EventBounds<'__factum>,
    for<'__factum> PricedV2: ::factum::__private::EventBounds<'__factum>,
{
    const NAME: &'static str = "Priced";
    const VERSION: u32 = 3;
    fn decode(
        version: u32,
        payload: &str,
    ) -> ::core::result::Result<Self, ::factum::DecodeError> {
        if version == 3 {
            ::factum::__private::decode_payload::<Self>(version, payload)
        } else if version < 3 {
            <PricedV2 as ::factum::Event>::decode(version, payload)
                .map(<Self as ::core::convert::From<PricedV2>>::from)
        } else {
            ::core::result::Result::Err(
                ::factum::__private::unknown_version::<Self>(version),
            )
        }
    }
}
const _: () = ::factum::__private::assert_event_bounds::<Priced>();
const _: () = {
    #[allow(unused_imports)]
    use ::factum::__private::NotAnEvent as _;
    if let ::core::option::Option::Some(__name) = ::factum::__private::EventInfo::<
        PricedV2,
    >::NAME {
        ::factum::__private::require(
            ::factum::__private::str_eq(__name, "Priced"),
            "`upcast_from = PricedV2`: an event upcasts only from an older version of itself, stored under the same name (`Priced`)",
        );
    }
    if let ::core::option::Option::Some(__version) = ::factum::__private::EventInfo::<
        PricedV2,
    >::VERSION {
        ::factum::__private::require(
            __version < 3,
            "`upcast_from = PricedV2`: the older type must have a lower `version` than 3",
        );
    }
};
const _: () = {
    static SHAPE: ::factum::registry::EventShape = ::factum::registry::EventShape {
        name: "Priced",
        version: 3,
        rust_type: ::core::concat!(::core::module_path!(), "::", "Priced"),
        upcast_from: ::core::option::Option::Some("PricedV2"),
        serde: &[],
        body: ::factum::registry::Body::Struct(
            &[
                ::factum::registry::FieldShape {
                    name: "cents",
                    ty: "u64",
                    serde: &[],
                },
                ::factum::registry::FieldShape {
                    name: "currency",
                    ty: "String",
                    serde: &[],
                },
            ],
        ),
    };
    ::factum::__private::inventory::submit!(::factum::registry::Registered(& SHAPE));
};
