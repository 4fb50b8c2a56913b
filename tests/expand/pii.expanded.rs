// Expansion of tests/expand/pii.rs by factum's macros. Generated: do not edit.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "CustomerRegistered")]
#[pii(subject = customer_id)]
pub struct CustomerRegistered {
    pub customer_id: String,
    pub name: Pii<String>,
    pub email: Option<Pii<String>>,
}
#[automatically_derived]
impl ::factum::Event for CustomerRegistered
where
    for<'__factum> Self: ::factum::__private::EventBounds<'__factum>,
{
    const NAME: &'static str = "CustomerRegistered";
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
    fn encode(
        &self,
    ) -> ::core::result::Result<::std::string::String, ::factum::EncodeError> {
        ::factum::__private::encode_with_subject(self, &self.customer_id)
    }
}
const _: () = ::factum::__private::assert_event_bounds::<CustomerRegistered>();
const _: () = {
    static SHAPE: ::factum::registry::EventShape = ::factum::registry::EventShape {
        name: "CustomerRegistered",
        version: 1,
        rust_type: ::core::concat!(::core::module_path!(), "::", "CustomerRegistered"),
        upcast_from: ::core::option::Option::None,
        serde: &[],
        body: ::factum::registry::Body::Struct(
            &[
                ::factum::registry::FieldShape {
                    name: "customer_id",
                    ty: "String",
                    serde: &[],
                },
                ::factum::registry::FieldShape {
                    name: "name",
                    ty: "Pii<String>",
                    serde: &[],
                },
                ::factum::registry::FieldShape {
                    name: "email",
                    ty: "Option<Pii<String>>",
                    serde: &[],
                },
            ],
        ),
    };
    ::factum::__private::inventory::submit!(::factum::registry::Registered(& SHAPE));
};
